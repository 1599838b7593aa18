import JITAuditCore

/// What one pipeline step makes durable, in one transaction.
public struct DurableBatch {
    public struct Accepted {
        public var event: Event
        public var position: LinePosition
        public var peer: Peer?
    }
    public struct Rejected {
        public var rejection: Rejection
        /// The line's bytes (empty for an over-long line, whose bytes were discarded).
        public var raw: [UInt8]
        public var position: LinePosition
        public var peer: Peer?
    }
    public var events: [Accepted] = []
    public var rejections: [Rejected] = []
    public var findings: [Finding] = []
    /// A file source's position after this batch.
    public var checkpoint: FileCheckpoint?
    /// The engine's state after this batch, when a snapshot is due.
    public var engineState: EngineState?
    /// Wall-clock time the batch was received.
    public var receivedAt: Timestamp

    public init(receivedAt: Timestamp) { self.receivedAt = receivedAt }
    public var isEmpty: Bool { events.isEmpty && rejections.isEmpty && findings.isEmpty && checkpoint == nil && engineState == nil }
}

/// Where the pipeline resumes after a restart: the last engine snapshot and
/// the file sources' checkpoints; the events logged after the snapshot are
/// streamed to the caller by ``AuditJournal/resume(feed:)``.
public struct ResumePoint {
    public var engineState: EngineState?
    public var replayedEvents: Int
    public var fileCheckpoints: [String: FileCheckpoint]
    public init(engineState: EngineState?, replayedEvents: Int, fileCheckpoints: [String: FileCheckpoint]) {
        self.engineState = engineState
        self.replayedEvents = replayedEvents
        self.fileCheckpoints = fileCheckpoints
    }
}

/// The durable side of the pipeline (the SQLite store in production).
///
/// `commit` writes a whole batch or nothing. Engine snapshots are taken only
/// now and then (encoding the state is costly); between them every accepted
/// event is in the audit log, so a restart restores the snapshot and feeds
/// the engine the events logged after it: the findings equal those of an
/// uninterrupted run, and finding ids make re-raised ones no-ops.
public protocol AuditJournal: AnyObject {
    func commit(_ batch: DurableBatch) throws
    /// Loads the last snapshot with `restore`, then streams the raw line of
    /// every event logged after it, oldest first, to `feed`.
    func resume(restore: (EngineState) -> Void, feed: (UnsafeRawBufferPointer) -> Void) throws -> ResumePoint
    /// Deletes audit-log rows received before `cutoff`; returns how many went.
    func prune(before cutoff: Timestamp, now: Timestamp) throws -> Int
}
