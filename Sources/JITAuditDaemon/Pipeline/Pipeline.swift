import Dispatch
import JITAuditCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// The daemon's single consumer: decodes lines from every source, makes them
/// durable, runs the engine and hands findings to the sinks.
///
/// An actor, so sources submit concurrently while the engine stays
/// single-threaded. Order within a batch is kept; `submit` returns after the
/// batch is committed, and a source awaiting it stops reading (back-pressure).
/// Findings reach the sinks only after the events that caused them are in the
/// audit log.
///
/// Group commit: the journal is written on a thread of its own
/// (``JournalWorker``), one transaction at a time. While one is being
/// written, the actor goes on decoding and running the engine over the
/// batches that arrive, and they are committed together in the next
/// transaction. An idle pipeline commits a batch at once; a busy one writes
/// fewer, larger transactions (SQLite rewrites every touched index page per
/// commit, so small commits multiply the bytes written), and the engine and
/// the store use both cores.
///
/// Periodic engine snapshots are taken between two commits (the state then
/// covers exactly the events committed so far) and encoded on another thread;
/// the encoded state is saved by the worker in a transaction of its own, so
/// encoding a large state never holds up the batches committed meanwhile. A
/// state that takes long to encode and write is saved less often than
/// `snapshotInterval`: at most once per ten times the CPU time its last
/// encoding and saving took, so snapshots cost at most about a tenth of a core
/// and of the writer (a restart then re-feeds more events from the log). The final snapshot (``checkpoint()``) is written with the
/// last batch.
public actor Pipeline: LineIntake {
    private var engine: Engine
    private var decoder = LineDecoder()
    private let journal: JournalWorker?
    /// Batches processed by the engine and waiting for the next commit, with their submitters.
    private var open = Group()
    /// A transaction is being written by the worker.
    private var committing = false
    /// The outcome of the transaction being written.
    private var inFlight: Completion?
    /// Events that may wait for the next commit before ``enqueue(_:)`` holds its callers.
    private let maxPendingEvents: Int
    /// Bytes of a periodic snapshot written per transaction (the store's
    /// `snapshotPartBytes`, which says why).
    private let partBytes: Int
    /// A periodic engine snapshot being encoded and saved beside the commits.
    private var snapshotTask: Task<Void, Never>?
    /// A periodic snapshot was taken and waits for its commit or is being
    /// saved: one at a time, since its parts must not interleave with another's.
    private var snapshotPending = false
    /// Ten times the CPU time the last periodic snapshot took to encode and save.
    private var snapshotBackoff = TimeSpan(micros: 0)
    private let deliver: @Sendable ([Finding]) -> Void
    private let wallClock: @Sendable () -> Timestamp
    private let snapshotInterval: TimeSpan
    private let logger: Logger
    private var lastSnapshot: Timestamp
    /// Wall time when the newest event (by event time) arrived: event time
    /// flows with the wall clock from it while sources are idle (SPEC §3).
    private var newestArrival: (eventTime: Timestamp, wall: Timestamp)?
    public private(set) var counters = Counters()
    /// The first failed commit. The engine had taken that transaction's
    /// events (and raised its findings, now lost), so it no longer matches
    /// the log: from then on nothing is taken, no snapshot is saved, and the
    /// daemon stops (`tick` throws), to resume from the log when restarted.
    /// Going on would judge a client's resent lines twice, or not at all (a
    /// first-seen value already learned).
    private var failure: (any Error)?

    /// Thrown by everything that would feed or save the engine after a failed commit.
    public struct Stopped: Error, CustomStringConvertible {
        public var cause: String
        public var description: String { "the audit log could not be written (\(cause)); jitaudit is stopping to restart from the log" }
    }

    private func refuseAfterFailure() throws {
        if let failure { throw Stopped(cause: "\(failure)") }
    }

    public struct Counters: Sendable {
        public var lines = 0
        public var accepted = 0
        public var rejected = 0
        public var commitFailures = 0
    }

    public init(engine: Engine, journal: (any AuditJournal)?, snapshotInterval: TimeSpan = .seconds(30), maxPendingEvents: Int = 16_384,
                snapshotPartBytes: Int = 256 << 10, logger: Logger,
                wallClock: @escaping @Sendable () -> Timestamp, deliver: @escaping @Sendable ([Finding]) -> Void) {
        self.engine = engine
        self.journal = journal.map(JournalWorker.init)
        self.snapshotInterval = snapshotInterval
        self.maxPendingEvents = maxPendingEvents
        self.partBytes = snapshotPartBytes
        self.logger = logger
        self.wallClock = wallClock
        self.deliver = deliver
        self.lastSnapshot = wallClock()
    }

    /// Replays what the journal holds after its last engine snapshot, without
    /// storing it again, so the engine stands where it stood before a crash.
    /// Returns the file sources' checkpoints.
    public func resume() throws -> [String: FileCheckpoint] {
        // Runs before any source, so nothing else uses the journal yet.
        guard let journal = journal?.journal else { return [:] }
        var findings: [Finding] = []
        let rules = engine.rules, config = engine.config
        var restored = engine
        let point = try journal.resume(restore: { restored = Engine(rules: rules, config: config, state: $0) }, feed: { raw in
            guard case .success(let e) = decoder.decode(raw.assumingMemoryBound(to: UInt8.self)) else { return }
            restored.ingest(e)
            findings += restored.takeFindings()
        }, advance: { watermark in
            restored.advance(to: watermark)
            findings += restored.takeFindings()
        })
        engine = restored
        var batch = DurableBatch(receivedAt: wallClock())
        batch.findings = findings
        batch.engineState = engine.state
        try journal.commit(batch)
        lastSnapshot = wallClock()
        logger.info("resumed", metadata: ["jitaudit.replayed": "\(point.replayedEvents)", "jitaudit.findings": "\(findings.count)"])
        if point.unresolvedRequests > 0 {
            logger.warning("open requests lost their request event (no longer in the audit log: pruned below request_retention?); they are judged without it",
                           metadata: ["jitaudit.requests": "\(point.unresolvedRequests)"])
        }
        return point.fileCheckpoints
    }

    public func submit(_ batch: LineBatch) async throws -> BatchReceipt {
        try await enqueue(batch).receipt()
    }

    /// Processes the batch now (decode, engine) and returns; its receipt comes
    /// once its transaction is committed. A source may hand over its next batch
    /// meanwhile, so one connection's batches can share a transaction. Suspends
    /// while `maxPendingEvents` events wait for the next commit (back-pressure).
    public func enqueue(_ batch: LineBatch) async throws -> PendingReceipt {
        try refuseAfterFailure()
        while committing && open.events >= maxPendingEvents, let inFlight {
            try? await inFlight.wait()
        }
        try refuseAfterFailure()
        let now = wallClock()
        var durable = DurableBatch(receivedAt: now)
        durable.checkpoint = batch.checkpoint
        var receipt = BatchReceipt(accepted: 0, rejected: [])
        for line in batch.lines {
            counters.lines += 1
            switch line.content {
            case .tooLong(let n):
                let r = Rejection(.tooLong, "line longer than the limit of \(engine.config.lineLimit) bytes (\(n)+ bytes)")
                durable.rejections.append(.init(rejection: r, raw: [], length: n, position: line.position, peer: batch.peer))
                receipt.rejected.append((line.position, r))
            case .cutOff(let bytes):
                let r = Rejection(.cutOff, "the connection timed out in the middle of this line (\(bytes.count) bytes, no newline); not taken")
                durable.rejections.append(.init(rejection: r, raw: bytes, position: line.position, peer: batch.peer))
                receipt.rejected.append((line.position, r))
            case .bytes(let bytes):
                switch decoder.decodeNext(bytes).flatMap({ e in checkSkew(e, now: now) }) {
                case .success(let e):
                    durable.events.append(.init(event: e, position: line.position, peer: batch.peer))
                    engine.ingest(e)
                    if engine.hasFindings { durable.findings += engine.takeFindings() }
                    if newestArrival.map({ e.ts >= $0.eventTime }) ?? true { newestArrival = (e.ts, now) }
                    receipt.accepted += 1
                case .failure(let r):
                    durable.rejections.append(.init(rejection: r, raw: bytes, position: line.position, peer: batch.peer))
                    receipt.rejected.append((line.position, r))
                }
            }
        }
        counters.accepted += receipt.accepted
        counters.rejected += receipt.rejected.count
        let done = join(durable)
        let result = receipt
        return PendingReceipt {
            try await done?.wait()
            return result
        }
    }

    /// Lets event time flow with the wall clock while no event arrives, so
    /// deadlines fire on time in a live stream (SPEC §3).
    public func tick() async throws {
        try refuseAfterFailure()
        let now = wallClock()
        guard let newest = newestArrival else { return }
        let flowing = newest.eventTime + (now - newest.wall) - engine.config.allowedLateness
        let steps = engine.steps
        engine.advance(to: flowing)
        var durable = DurableBatch(receivedAt: now)
        durable.findings = engine.takeFindings()
        // Journaled only when it changed what the engine did: an idle daemon writes nothing.
        if engine.steps != steps { durable.watermark = engine.watermark }
        try await join(durable)?.wait()
    }

    /// End of input or shutdown: a final snapshot so a restart replays nothing.
    public func checkpoint() async throws {
        // A snapshot now would make the engine's lost events durable.
        try refuseAfterFailure()
        await snapshotTask?.value
        var durable = DurableBatch(receivedAt: wallClock())
        durable.findings = engine.takeFindings()
        try await join(durable, snapshot: true)?.wait()
    }

    /// Applies the audit-log retention: rows older than `age` go.
    public func prune(olderThan age: TimeSpan) async throws -> Int {
        guard let journal else { return 0 }
        let now = wallClock()
        return try await journal.run { try $0.prune(before: now - age, now: now) }
    }

    /// Rebuilds what was deleted by hand of the journal's derived files; returns what was done.
    public func repairDerivedFiles() async throws -> String? {
        guard let journal else { return nil }
        return try await journal.run { try $0.repairDerivedFiles() }
    }

    /// Rejects an event stamped further ahead of the wall clock than
    /// `max_future_skew`: accepted, it would move the watermark to its time and
    /// fire every pending deadline early, and mark all later events as late.
    private func checkSkew(_ e: Event, now: Timestamp) -> Result<Event, Rejection> {
        guard let skew = engine.config.maxFutureSkew, e.ts > now + skew else { return .success(e) }
        return .failure(Rejection(.futureTimestamp, "field \"ts\": \(e.ts.rfc3339) is \((e.ts - now).description) ahead of this host's clock (\(now.rfc3339)); max_future_skew is \(skew.description)"))
    }

    /// New rules and configuration; the state of rules that did not change is kept.
    public func reload(rules: RuleSet, config: EngineConfig) {
        engine = Engine(rules: rules, config: config, state: engine.state)
    }

    public var stats: EngineStats { engine.stats }
    public var watermark: Timestamp { engine.watermark }

    // MARK: group commit

    private struct Group {
        var parts: [DurableBatch] = []
        var events = 0
        let done = Completion()
        var snapshot = false
    }

    /// Adds `part` to the next transaction; returns what to await for it to be
    /// committed (nil when there is nothing to commit).
    private func join(_ part: DurableBatch, snapshot: Bool = false) -> Completion? {
        guard journal != nil else {
            if snapshot { lastSnapshot = part.receivedAt }
            if !part.findings.isEmpty { deliver(part.findings) }
            return nil
        }
        let due = snapshot || part.receivedAt - lastSnapshot >= max(snapshotInterval, snapshotBackoff)
        if part.isEmpty && !due && open.parts.isEmpty { return nil }
        open.parts.append(part)
        open.events += part.events.count
        open.snapshot = open.snapshot || snapshot
        let done = open.done
        startCommit()
        return done
    }

    /// Hands the open group to the worker unless a transaction is being written
    /// (then it is started when that one ends).
    private func startCommit() {
        guard !committing, !open.parts.isEmpty, let journal else { return }
        var group = open
        open = Group()
        committing = true
        inFlight = group.done
        let now = group.parts[group.parts.count - 1].receivedAt
        // Every event the engine has seen is in this group or committed before it.
        var background: Task<([UInt8], TimeSpan), any Error>?
        if group.snapshot {
            group.parts[group.parts.count - 1].engineState = engine.state
            lastSnapshot = now
        } else if !snapshotPending && now - lastSnapshot >= max(snapshotInterval, snapshotBackoff) {
            // Encoded from now, beside this commit; only saving waits for it.
            // Every table the state shares, the engine copies on its next
            // change until the encoder has let go of it, so the sooner the
            // encoder starts, the less the engine copies.
            let held = HeldState(engine.state)
            background = Task { try await journal.encode(held) }
            lastSnapshot = now
            snapshotPending = true
        }
        let parts = group.parts
        Task {
            let result = await journal.result { j in
                let stored = try j.commit(parts)
                return (seq: j.committedSeq, stored: stored)
            }
            committed(group, result.map(\.stored))
            if let background {
                if case .success(let r) = result { saveSnapshot(background, throughSeq: r.seq, at: now) } else { snapshotPending = false }
            }
        }
    }

    /// Has the worker store a state being encoded off the actor and the
    /// worker (the state is let go of once encoded, not held while its parts
    /// are saved).
    private func saveSnapshot(_ encoding: Task<([UInt8], TimeSpan), any Error>, throughSeq seq: Int64, at now: Timestamp) {
        guard let journal else { return }
        snapshotTask = Task {
            do {
                let (encoded, cpu) = try await encoding.value
                // In parts, each a job of its own on the worker: commits queued
                // meanwhile run between them instead of waiting for the whole blob.
                let size = max(1, partBytes)
                let parts = max(1, (encoded.count + size - 1) / size)
                var saving: Int64 = 0
                for i in 0..<parts {
                    let part = Array(encoded[min(encoded.count, i * size)..<min(encoded.count, (i + 1) * size)])
                    saving += try await journal.cpuTimed { try $0.stageSnapshotPart(part, index: i) }
                }
                saving += try await journal.cpuTimed { try $0.saveStagedSnapshot(parts: parts, throughSeq: seq, at: now) }
                // The previous snapshot's parts go a few at a time, commits between.
                while try await journal.run({ try $0.dropStaleSnapshotParts(limit: 2) }) {}
                // Paced by what it cost, writing included: the worker (one
                // SQLite writer) is the daemon's bottleneck, and a snapshot
                // blob of tens of MB takes it off the events for a while.
                snapshotBackoff = TimeSpan(micros: 10 * (cpu.micros + saving))
            } catch {
                logger.error("engine snapshot failed", metadata: ["jitaudit.error": "\(error)"])
            }
            snapshotTask = nil
            snapshotPending = false
        }
    }

    private func committed(_ group: Group, _ result: Result<Set<String>, any Error>) {
        committing = false
        inFlight = nil
        switch result {
        case .success(let stored):
            // A finding already stored was delivered before a restart (the
            // engine raised it again: a deadline reached by the wall clock is
            // not in the log, so it fires again after a resume).
            let findings = group.parts.flatMap(\.findings).filter { !stored.contains($0.id) }
            if !findings.isEmpty { deliver(findings) }
        case .failure(let error):
            counters.commitFailures += 1
            if failure == nil {
                failure = error
                logger.error("committing to the audit log failed; refusing all further input and stopping: the engine has seen events the log does not hold, so it must restart from the log",
                             metadata: ["jitaudit.error": "\(error)"])
            }
        }
        group.done.finish(result.map { _ in })
        startCommit()
    }
}

/// An engine state on its way to the encoder, given up once taken.
final class HeldState: Sendable {
    private let state: Mutex<EngineState?>

    init(_ state: EngineState) { self.state = Mutex(state) }

    /// The state; after this the holder keeps no reference to it.
    func take() -> EngineState {
        state.withLock { s in
            defer { s = nil }
            return s!
        }
    }
}

/// One transaction's outcome, awaited by every batch in it.
final class Completion: Sendable {
    private let state = Mutex<(result: Result<Void, any Error>?, waiters: [CheckedContinuation<Void, any Error>])>((nil, []))

    func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let done: Result<Void, any Error>? = state.withLock { s in
                if let r = s.result { return r }
                s.waiters.append(c)
                return nil
            }
            if let done { c.resume(with: done) }
        }
    }

    func finish(_ result: Result<Void, any Error>) {
        let waiters = state.withLock { s in
            s.result = result
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(with: result) }
    }
}

/// Owns the journal and runs its work in order on one thread of its own, off
/// the pipeline actor (SQLite calls block).
final class JournalWorker: @unchecked Sendable {
    // `journal` is used only on `queue`, except by `Pipeline.resume()` before any work is queued
    // and by `encode`, which uses no connection.
    let journal: any AuditJournal
    private let queue = DispatchQueue(label: "jitaudit.journal")

    init(_ journal: any AuditJournal) { self.journal = journal }

    func result<T: Sendable>(_ body: @escaping @Sendable (any AuditJournal) throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { c in
            queue.async { c.resume(returning: Result { try body(self.journal) }) }
        }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (any AuditJournal) throws -> T) async throws -> T {
        try await result(body).get()
    }

    /// Runs `body` on the worker; returns the CPU time (µs) it took there.
    func cpuTimed(_ body: @escaping @Sendable (any AuditJournal) throws -> Void) async throws -> Int64 {
        try await run { j in
            let start = Self.threadCPUTime()
            try body(j)
            return Self.threadCPUTime() - start
        }
    }

    /// Encodes a snapshot on a global queue (neither the worker nor the actor
    /// waits for it), and lets go of the state there; returns the encoding
    /// with the CPU time it took.
    func encode(_ held: HeldState) async throws -> ([UInt8], TimeSpan) {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global(qos: .utility).async {
                let start = Self.threadCPUTime()
                let result = Result { try self.journal.encodeSnapshot(held.take()) }
                // The storage the engine has copied since is freed here, on
                // this thread, not on the pipeline's.
                c.resume(with: result.map { ($0, TimeSpan(micros: Self.threadCPUTime() - start)) })
            }
        }
    }

    /// CPU time of the calling thread, in microseconds.
    static func threadCPUTime() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
