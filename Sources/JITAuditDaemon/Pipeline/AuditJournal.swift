import JITAuditCore

/// What one pipeline step makes durable: one source batch (or a tick's
/// findings). The pipeline commits several of them in one transaction when
/// they arrive while the previous transaction is being written.
public struct DurableBatch: Sendable {
    public struct Accepted: Sendable {
        public var event: Event
        public var position: LinePosition
        public var peer: Peer?
    }
    public struct Rejected: Sendable {
        public var rejection: Rejection
        /// The line's bytes (empty for an over-long line, whose bytes were discarded).
        public var raw: [UInt8]
        /// The line's full length in bytes (more than `raw` for an over-long line).
        public var length: Int
        public var position: LinePosition
        public var peer: Peer?

        public init(rejection: Rejection, raw: [UInt8], length: Int? = nil, position: LinePosition, peer: Peer?) {
            self.rejection = rejection
            self.raw = raw
            self.length = max(length ?? raw.count, raw.count)
            self.position = position
            self.peer = peer
        }
    }
    public var events: [Accepted] = []
    public var rejections: [Rejected] = []
    public var findings: [Finding] = []
    /// A file source's position after this batch.
    public var checkpoint: FileCheckpoint?
    /// The engine's state after this batch, when a snapshot is due.
    public var engineState: EngineState?
    /// The watermark the wall clock moved the engine to after this batch's
    /// events (a tick that released events or fired deadlines), journaled so
    /// a resume replays it at the same point.
    public var watermark: Timestamp?
    /// Wall-clock time the batch was received.
    public var receivedAt: Timestamp

    public init(receivedAt: Timestamp) { self.receivedAt = receivedAt }
    public var isEmpty: Bool {
        events.isEmpty && rejections.isEmpty && findings.isEmpty && checkpoint == nil && engineState == nil && watermark == nil
    }
}

/// Where the pipeline resumes after a restart: the last engine snapshot and
/// the file sources' checkpoints; the events logged after the snapshot are
/// streamed to the caller by ``AuditJournal/resume(feed:)``.
public struct ResumePoint {
    public var engineState: EngineState?
    public var replayedEvents: Int
    public var fileCheckpoints: [String: FileCheckpoint]
    /// Open requests of the snapshot whose `request` event is no longer in the journal.
    public var unresolvedRequests: Int
    public init(engineState: EngineState?, replayedEvents: Int, fileCheckpoints: [String: FileCheckpoint], unresolvedRequests: Int = 0) {
        self.engineState = engineState
        self.replayedEvents = replayedEvents
        self.fileCheckpoints = fileCheckpoints
        self.unresolvedRequests = unresolvedRequests
    }
}

/// The durable side of the pipeline (the SQLite store in production).
///
/// `commit` writes whole batches or nothing, in one transaction. Engine snapshots are taken only
/// now and then (encoding the state is costly); between them every accepted
/// event is in the audit log, so a restart restores the snapshot and feeds
/// the engine the events logged after it: the findings equal those of an
/// uninterrupted run, and finding ids make re-raised ones no-ops (neither
/// stored nor sent to the sinks a second time).
public protocol AuditJournal: AnyObject {
    /// Writes the batches in order in one transaction, each with its own
    /// `receivedAt`; an engine state is taken from the last batch only (it
    /// covers the events of all of them). Returns the ids of the batches'
    /// findings that were stored already (raised again after a restart).
    @discardableResult
    func commit(_ batches: [DurableBatch]) throws -> Set<String>
    /// Seq of the newest committed event.
    var committedSeq: Int64 { get }
    /// Encodes an engine state for ``saveSnapshot(encoded:throughSeq:at:)``.
    /// Uses no connection: may run on another thread while commits go on.
    func encodeSnapshot(_ state: consuming EngineState) throws -> [UInt8]
    /// Stores a snapshot of the state after event `throughSeq` (taken while
    /// later events were being committed), in a transaction of its own; never
    /// replaces a newer one.
    func saveSnapshot(encoded: [UInt8], throughSeq: Int64, at now: Timestamp) throws
    /// Stores part `index` of a snapshot saved in parts (part 0 starts one),
    /// in a transaction of its own: commits run between parts, so a large
    /// state never holds the writer for long.
    func stageSnapshotPart(_ bytes: [UInt8], index: Int) throws
    /// Makes the `parts` staged parts the current snapshot of the state after
    /// event `throughSeq`, unless a newer one is stored.
    func saveStagedSnapshot(parts: Int, throughSeq: Int64, at now: Timestamp) throws
    /// Removes up to `limit` parts of snapshots no longer current, in a
    /// transaction of its own; returns whether any are left.
    func dropStaleSnapshotParts(limit: Int) throws -> Bool
    /// Loads the last snapshot with `restore`, then streams the raw line of
    /// every event logged after it, oldest first, to `feed`, and each
    /// journaled watermark advance to `advance` right after the event it followed.
    func resume(restore: (EngineState) -> Void, feed: (UnsafeRawBufferPointer) -> Void,
                advance: (Timestamp) -> Void) throws -> ResumePoint
    /// Deletes audit-log rows received before `cutoff`; returns how many went.
    func prune(before cutoff: Timestamp, now: Timestamp) throws -> Int
    /// Repairs derived files removed by hand while the daemon runs (the
    /// store's index file); returns what was done, for the log.
    func repairDerivedFiles() throws -> String?
}

extension AuditJournal {
    public func repairDerivedFiles() throws -> String? { nil }

    @discardableResult
    public func commit(_ batch: DurableBatch) throws -> Set<String> { try commit([batch]) }
}
