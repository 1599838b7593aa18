import Foundation
import JITAuditCore
@testable import JITAuditDaemon
import Logging
import Synchronization
import Testing

/// A journal that records what it commits, can hold a commit until released,
/// and records snapshots with the number of events their state had seen.
final class RecordingJournal: AuditJournal, @unchecked Sendable {
    struct State {
        /// Per commit: per batch, the line numbers of its events.
        var commits: [[[Int]]] = []
        var committedEvents = 0
        /// (through seq, events the state had seen) per saved snapshot.
        var snapshots: [(through: Int64, seen: Int)] = []
        var inlineSnapshots = 0
        var commitStarted = 0
        /// Ids of the findings committed, as a store keeps them (unique).
        var findingIDs: Set<String> = []
        var partsStaged = 0
        /// Snapshots encoded, and how many commits had ended when each began.
        var encodesStartedAfterCommits: [Int] = []
    }
    let state = Mutex(State())
    private let gate = DispatchSemaphore(value: 0)
    private let holding = Atomic<Bool>(false)
    private let failing = Atomic<Bool>(false)

    /// Commits fail (as on a full disk) while set.
    func failCommits(_ on: Bool) { failing.store(on, ordering: .relaxed) }
    struct DiskFull: Error {}

    /// Commits wait for ``release()`` until it is called.
    func hold() { holding.store(true, ordering: .relaxed) }
    func release() {
        holding.store(false, ordering: .relaxed)
        gate.signal()
    }

    func commit(_ batches: [DurableBatch]) throws -> Set<String> {
        state.withLock { $0.commitStarted += 1 }
        if holding.load(ordering: .relaxed) { gate.wait() }
        if failing.load(ordering: .relaxed) { throw DiskFull() }
        return state.withLock { s in
            s.commits.append(batches.map { $0.events.map(\.position.line) })
            s.committedEvents += batches.reduce(0) { $0 + $1.events.count }
            if batches.last?.engineState != nil { s.inlineSnapshots += 1 }
            var stored: Set<String> = []
            for f in batches.flatMap(\.findings) where !s.findingIDs.insert(f.id).inserted { stored.insert(f.id) }
            return stored
        }
    }

    var committedSeq: Int64 { Int64(state.withLock { $0.committedEvents }) }

    func encodeSnapshot(_ s: EngineState) throws -> [UInt8] {
        state.withLock { $0.encodesStartedAfterCommits.append($0.commits.count) }
        return Array(String(s.stats.events).utf8)
    }

    func saveSnapshot(encoded: [UInt8], throughSeq: Int64, at now: Timestamp) throws {
        let seen = Int(String(decoding: encoded, as: UTF8.self))!
        state.withLock { $0.snapshots.append((throughSeq, seen)) }
    }

    /// Parts of the snapshot being saved in parts, and how many were saved so.
    private let staged = Mutex<[[UInt8]]>([])
    var partsStaged: Int { state.withLock { $0.partsStaged } }

    func stageSnapshotPart(_ bytes: [UInt8], index: Int) throws {
        staged.withLock { p in
            if index == 0 { p = [] }
            precondition(p.count == index, "parts are staged in order")
            p.append(bytes)
        }
        state.withLock { $0.partsStaged += 1 }
    }

    func dropStaleSnapshotParts(limit: Int) throws -> Bool { false }

    func saveStagedSnapshot(parts: Int, throughSeq: Int64, at now: Timestamp) throws {
        let bytes = staged.withLock { p in
            precondition(p.count == parts)
            return p.flatMap { $0 }
        }
        try saveSnapshot(encoded: bytes, throughSeq: throughSeq, at: now)
    }

    func resume(restore: (EngineState) -> Void, feed: (UnsafeRawBufferPointer) -> Void,
                advance: (Timestamp) -> Void) throws -> ResumePoint {
        ResumePoint(engineState: nil, replayedEvents: 0, fileCheckpoints: [:])
    }

    func prune(before cutoff: Timestamp, now: Timestamp) throws -> Int { 0 }
}

/// Findings handed to the sinks.
final class Delivered: Sendable {
    let findings = Mutex<[Finding]>([])
    var selfApprovals: Int { findings.withLock { $0.filter { $0.rule == "self_approval" }.count } }
    var isEmpty: Bool { findings.withLock { $0.isEmpty } }
}

@Suite("Pipeline group commit")
struct PipelineTests {
    /// Periodic snapshots go in parts of one byte (the journal's encoding is a
    /// short decimal), so every snapshot test saves them in several parts.
    static func pipeline(_ journal: RecordingJournal, snapshotInterval: TimeSpan = .seconds(3600),
                         delivered: Delivered? = nil) throws -> Pipeline {
        let rules = try RuleLoader.load([("default.yaml", DefaultRules.yaml)], config: EngineConfig()).get()
        return Pipeline(engine: Engine(rules: rules, config: EngineConfig()), journal: journal, snapshotInterval: snapshotInterval,
                        snapshotPartBytes: 1, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, wallClock: { WallClock.now() },
                        deliver: { fs in delivered?.findings.withLock { $0 += fs } })
    }

    /// Lines `first..<first+n` of a source: a request and a self-approval per pair.
    static func batch(_ source: String, lines: Range<Int>) -> LineBatch {
        LineBatch(source: source, lines: lines.map { i in
            let rid = "\(source)-\(i / 2)"
            let kind = i % 2 == 0 ? "request" : "approve"
            let ts = Timestamp(micros: 1_772_000_000_000_000 + Int64(i) * 1_000_000).rfc3339
            let json = "{\"ts\":\"\(ts)\",\"event\":\"\(kind)\",\"request_id\":\"\(rid)\",\"actor\":\"u-\(source)\",\"requester\":\"u-\(source)\"}"
            return RawLine(.bytes(Array(json.utf8)), position: LinePosition(source: source, line: i + 1, offset: Int64(i * 200)))
        })
    }

    /// Batches that arrive while a transaction is written are committed
    /// together in the next one, each in order; a submit returns only once its
    /// batch is committed, and findings are delivered only after that.
    @Test func batchesArrivingDuringACommitShareTheNext() async throws {
        let journal = RecordingJournal()
        let delivered = Delivered()
        let p = try Self.pipeline(journal, delivered: delivered)
        journal.hold()
        let first = Task { try await p.submit(Self.batch("a", lines: 0..<10)) }
        while journal.state.withLock({ $0.commitStarted }) == 0 { try await Task.sleep(for: .milliseconds(1)) }
        let others = (0..<3).map { k in
            Task { () throws -> Bool in
                _ = try await p.submit(Self.batch("c\(k)", lines: 0..<6))
                // Returned: its lines are committed.
                return journal.state.withLock { $0.committedEvents } >= 10 + 6
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(journal.state.withLock { $0.commits.count } == 0)
        #expect(delivered.isEmpty, "nothing delivered before its commit")
        journal.release()
        #expect(try await first.value.accepted == 10)
        for t in others { #expect(try await t.value) }
        let commits = journal.state.withLock { $0.commits }
        #expect(commits.count == 2)
        #expect(commits.first == [Array(1...10)])
        #expect(commits.last?.count == 3)
        let joined = commits.last ?? []
        #expect(joined.allSatisfy { $0 == Array(1...6) })
        // One self-approval per request/approve pair.
        let selfApprovals = delivered.selfApprovals
        #expect(selfApprovals == 5 + 3 * 3)
    }

    /// A finding the journal already holds (raised again by an engine that
    /// resumed from an older state) is not delivered to the sinks twice.
    @Test func findingsAlreadyStoredAreNotDeliveredAgain() async throws {
        let journal = RecordingJournal()
        let first = Delivered()
        _ = try await Self.pipeline(journal, delivered: first).submit(Self.batch("a", lines: 0..<6))
        #expect(first.selfApprovals == 3)
        // A second pipeline over the same journal, as after a restart whose
        // engine state predates these events: the same findings come again.
        let again = Delivered()
        _ = try await Self.pipeline(journal, delivered: again).submit(Self.batch("a", lines: 0..<8))
        #expect(again.selfApprovals == 1, "only the new request's self-approval: \(again.findings.withLock { $0.map(\.requestID) })")
        #expect(journal.state.withLock { $0.findingIDs.count } == 4)
    }

    /// A failed commit leaves the engine ahead of the log: it took that
    /// transaction's events and raised its findings, now lost. From then on
    /// the pipeline takes nothing (a resent line would be judged twice, or
    /// not at all once its first-seen value was learned) and saves no
    /// snapshot (that would make the lost events' effects durable), and
    /// `tick` throws, so the daemon stops and restarts from the log.
    @Test func afterAFailedCommitNothingIsTakenAndTheDaemonStops() async throws {
        let journal = RecordingJournal()
        let p = try Self.pipeline(journal)
        _ = try await p.submit(Self.batch("a", lines: 0..<4))
        journal.failCommits(true)
        await #expect(throws: RecordingJournal.DiskFull.self) { try await p.submit(Self.batch("a", lines: 4..<8)) }
        journal.failCommits(false)  // the disk has room again: still nothing is taken
        await #expect(throws: Pipeline.Stopped.self) { try await p.submit(Self.batch("a", lines: 8..<10)) }
        await #expect(throws: Pipeline.Stopped.self) { try await p.tick() }
        await #expect(throws: Pipeline.Stopped.self) { try await p.checkpoint() }
        #expect(journal.state.withLock { $0.committedEvents } == 4)
        #expect(journal.state.withLock { $0.snapshots.isEmpty && $0.inlineSnapshots == 0 })
    }

    /// One source handing over batches without waiting (`enqueue`): those
    /// taken while a transaction is written share the next one; each receipt
    /// comes once its batch is committed; past `maxPendingEvents` waiting
    /// events, `enqueue` holds its caller until the commit in flight ends.
    @Test func oneSourcesQueuedBatchesShareATransaction() async throws {
        let journal = RecordingJournal()
        let rules = try RuleLoader.load([("default.yaml", DefaultRules.yaml)], config: EngineConfig()).get()
        let p = Pipeline(engine: Engine(rules: rules, config: EngineConfig()), journal: journal, snapshotInterval: .seconds(3600),
                         maxPendingEvents: 30, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
                         wallClock: { WallClock.now() }, deliver: { _ in })
        journal.hold()
        let r0 = try await p.enqueue(Self.batch("a", lines: 0..<10))
        while journal.state.withLock({ $0.commitStarted }) == 0 { try await Task.sleep(for: .milliseconds(1)) }
        let r1 = try await p.enqueue(Self.batch("a", lines: 10..<20))
        let r2 = try await p.enqueue(Self.batch("a", lines: 20..<30))
        let r3 = try await p.enqueue(Self.batch("a", lines: 30..<40))  // 30 waiting: not held yet
        let held = Task { try await p.enqueue(Self.batch("a", lines: 40..<50)) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(journal.state.withLock { $0.commits.isEmpty })
        journal.release()
        for (i, r) in [r0, r1, r2, r3].enumerated() {
            #expect(try await r.receipt().accepted == 10)
            #expect(journal.state.withLock { $0.committedEvents } >= (i == 0 ? 10 : 40))
        }
        #expect(try await held.value.receipt().accepted == 10)
        let commits = journal.state.withLock { $0.commits }
        #expect(commits.count == 3)
        #expect(commits.map { $0.flatMap { $0 } } == [Array(1...10), Array(11...40), Array(41...50)])
    }

    /// A periodic snapshot is encoded while the commit it follows is still
    /// being written (only saving it waits for that commit): the sooner the
    /// encoder starts, the less of the state the engine copies before the
    /// encoder lets go of it. It is saved once the commit is done.
    @Test func aPeriodicSnapshotIsEncodedWhileItsCommitIsWritten() async throws {
        let journal = RecordingJournal()
        let p = try Self.pipeline(journal, snapshotInterval: TimeSpan(micros: 0))
        journal.hold()
        let first = Task { try await p.submit(Self.batch("a", lines: 0..<10)) }
        // Encoded while the commit is held (the commit waits for `release`).
        var waited = 0
        while journal.state.withLock({ $0.encodesStartedAfterCommits.isEmpty }) && waited < 5_000 {
            try await Task.sleep(for: .milliseconds(1))
            waited += 1
        }
        let encodes = journal.state.withLock { $0.encodesStartedAfterCommits }
        #expect(encodes == [0], "encodings began after these many commits: \(encodes)")
        #expect(journal.state.withLock { $0.commits.isEmpty && $0.snapshots.isEmpty }, "nothing committed or saved before the commit ends")
        journal.release()
        #expect(try await first.value.accepted == 10)
        try await p.checkpoint()
        let saved = journal.state.withLock { $0.snapshots }
        #expect(saved.first.map { $0.through == 10 && $0.seen == 10 } == true, "\(saved)")
    }

    /// A periodic snapshot is taken between commits, so the state it saves has
    /// seen exactly the events committed through its seq; the final one is
    /// written inline with the last batch.
    @Test func snapshotsCoverExactlyTheEventsThroughTheirSeq() async throws {
        let journal = RecordingJournal()
        let p = try Self.pipeline(journal, snapshotInterval: TimeSpan(micros: 0))
        try await withThrowingTaskGroup(of: Void.self) { g in
            for k in 0..<4 {
                g.addTask {
                    for start in stride(from: 0, to: 200, by: 20) { _ = try await p.submit(Self.batch("s\(k)", lines: start..<(start + 20))) }
                }
            }
            try await g.waitForAll()
        }
        try await p.checkpoint()
        let s = journal.state.withLock { $0 }
        #expect(s.committedEvents == 800)
        #expect(!s.snapshots.isEmpty)
        for snap in s.snapshots { #expect(Int64(snap.seen) == snap.through) }
        // Saved in parts (one per digit), with commits free to run between them.
        #expect(s.partsStaged >= s.snapshots.count * 2)
        #expect(s.inlineSnapshots == 1)
    }
}
