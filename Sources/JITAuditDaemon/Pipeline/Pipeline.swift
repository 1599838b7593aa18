import JITAuditCore
import Logging

/// The daemon's single consumer: decodes lines from every source, makes them
/// durable, runs the engine and hands findings to the sinks.
///
/// An actor, so sources submit concurrently while the engine stays
/// single-threaded. Order within a batch is kept; `submit` returns after the
/// batch is committed, and a source awaiting it stops reading (back-pressure).
/// Findings reach the sinks only after the events that caused them are in the
/// audit log.
public actor Pipeline: LineIntake {
    private var engine: Engine
    private let decoder = LineDecoder()
    private let journal: (any AuditJournal)?
    private let deliver: @Sendable ([Finding]) -> Void
    private let wallClock: @Sendable () -> Timestamp
    private let snapshotInterval: TimeSpan
    private let logger: Logger
    private var lastSnapshot: Timestamp
    /// Wall time when the newest event (by event time) arrived: event time
    /// flows with the wall clock from it while sources are idle (SPEC §3).
    private var newestArrival: (eventTime: Timestamp, wall: Timestamp)?
    public private(set) var counters = Counters()

    public struct Counters: Sendable {
        public var lines = 0
        public var accepted = 0
        public var rejected = 0
        public var commitFailures = 0
    }

    public init(engine: Engine, journal: (any AuditJournal)?, snapshotInterval: TimeSpan = .seconds(5), logger: Logger,
                wallClock: @escaping @Sendable () -> Timestamp, deliver: @escaping @Sendable ([Finding]) -> Void) {
        self.engine = engine
        self.journal = journal
        self.snapshotInterval = snapshotInterval
        self.logger = logger
        self.wallClock = wallClock
        self.deliver = deliver
        self.lastSnapshot = wallClock()
    }

    /// Replays what the journal holds after its last engine snapshot, without
    /// storing it again, so the engine stands where it stood before a crash.
    /// Returns the file sources' checkpoints.
    public func resume() throws -> [String: FileCheckpoint] {
        guard let journal else { return [:] }
        var findings: [Finding] = []
        let rules = engine.rules, config = engine.config
        var restored = engine
        let point = try journal.resume(restore: { restored = Engine(rules: rules, config: config, state: $0) }, feed: { raw in
            guard case .success(let e) = decoder.decode(raw.assumingMemoryBound(to: UInt8.self)) else { return }
            restored.ingest(e)
            findings += restored.takeFindings()
        })
        engine = restored
        var batch = DurableBatch(receivedAt: wallClock())
        batch.findings = findings
        batch.engineState = engine.state
        try journal.commit(batch)
        lastSnapshot = wallClock()
        logger.info("resumed", metadata: ["jitaudit.replayed": "\(point.replayedEvents)", "jitaudit.findings": "\(findings.count)"])
        return point.fileCheckpoints
    }

    public func submit(_ batch: LineBatch) async throws -> BatchReceipt {
        let now = wallClock()
        var durable = DurableBatch(receivedAt: now)
        durable.checkpoint = batch.checkpoint
        var receipt = BatchReceipt(accepted: 0, rejected: [])
        for line in batch.lines {
            counters.lines += 1
            switch line.content {
            case .tooLong(let n):
                let r = Rejection(.tooLong, "line longer than the limit of \(engine.config.lineLimit) bytes (\(n)+ bytes)")
                durable.rejections.append(.init(rejection: r, raw: [], position: line.position, peer: batch.peer))
                receipt.rejected.append((line.position, r))
            case .bytes(let bytes):
                switch decoder.decode(bytes) {
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
        try commit(&durable, now: now)
        return receipt
    }

    /// Lets event time flow with the wall clock while no event arrives, so
    /// deadlines fire on time in a live stream (SPEC §3).
    public func tick() throws {
        let now = wallClock()
        guard let newest = newestArrival else { return }
        let flowing = newest.eventTime + (now - newest.wall) - engine.config.allowedLateness
        engine.advance(to: flowing)
        var durable = DurableBatch(receivedAt: now)
        durable.findings = engine.takeFindings()
        try commit(&durable, now: now)
    }

    /// End of input or shutdown: a final snapshot so a restart replays nothing.
    public func checkpoint() throws {
        var durable = DurableBatch(receivedAt: wallClock())
        durable.findings = engine.takeFindings()
        durable.engineState = engine.state
        try journal?.commit(durable)
        lastSnapshot = durable.receivedAt
        deliver(durable.findings)
    }

    /// Applies the audit-log retention: rows older than `age` go.
    public func prune(olderThan age: TimeSpan) throws -> Int {
        guard let journal else { return 0 }
        let now = wallClock()
        return try journal.prune(before: now - age, now: now)
    }

    /// New rules and configuration; the state of rules that did not change is kept.
    public func reload(rules: RuleSet, config: EngineConfig) {
        engine = Engine(rules: rules, config: config, state: engine.state)
    }

    public var stats: EngineStats { engine.stats }
    public var watermark: Timestamp { engine.watermark }

    private func commit(_ durable: inout DurableBatch, now: Timestamp) throws {
        if now - lastSnapshot >= snapshotInterval {
            durable.engineState = engine.state
            lastSnapshot = now
        }
        if let journal, !durable.isEmpty {
            do { try journal.commit(durable) } catch {
                counters.commitFailures += 1
                throw error
            }
        }
        if !durable.findings.isEmpty { deliver(durable.findings) }
    }
}
