import JITAuditCore
import JITAuditStore

/// The pipeline's journal on the SQLite store: one transaction per commit.
public final class StoreJournal: AuditJournal {
    let store: AuditStore
    /// The database path (immutable, so ``encodeSnapshot(_:)`` may read it from any thread).
    let path: String

    public init(path: String) throws {
        store = try AuditStore(path: path, mode: .write)
        self.path = path
    }

    @discardableResult
    public func commit(_ batches: [DurableBatch]) throws -> Set<String> {
        guard let last = batches.last else { return [] }
        var stored: Set<String> = []
        assert(batches.dropLast().allSatisfy { $0.engineState == nil }, "only the last batch of a commit may carry a snapshot")
        do {
            for b in batches {
                for a in b.events {
                    try store.append(a.event, source: a.position.source, line: a.position.line, offset: a.position.offset,
                                     peer: a.peer.map { JITAuditStore.PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }, receivedAt: b.receivedAt)
                }
                for r in b.rejections { try reject(r, at: b.receivedAt) }
                if let w = b.watermark { try store.recordWatermark(w) }
                for f in b.findings where try !store.record(f, recordedAt: b.receivedAt) { stored.insert(f.id) }
                if let c = b.checkpoint {
                    try store.save(SourceCheckpoint(path: c.path, device: c.device, inode: c.inode, fingerprint: c.fingerprint,
                                                    offset: c.offset, line: c.line), at: b.receivedAt)
                }
            }
            try store.commit(snapshot: last.engineState, at: last.receivedAt)
            return stored
        } catch {
            store.rollback()
            throw error
        }
    }

    public var committedSeq: Int64 { store.chainHead?.seq ?? 0 }

    public func encodeSnapshot(_ state: consuming EngineState) throws -> [UInt8] {
        try AuditStore.encodeSnapshot(consume state, path: path)
    }

    public func saveSnapshot(encoded: [UInt8], throughSeq: Int64, at now: Timestamp) throws {
        try store.saveSnapshot(encoded: encoded, throughSeq: throughSeq, at: now)
    }

    public func stageSnapshotPart(_ bytes: [UInt8], index: Int) throws {
        try store.stageSnapshotPart(bytes, index: index)
    }

    public func saveStagedSnapshot(parts: Int, throughSeq: Int64, at now: Timestamp) throws {
        try store.saveStagedSnapshot(parts: parts, throughSeq: throughSeq, at: now)
    }

    public func dropStaleSnapshotParts(limit: Int) throws -> Bool {
        try store.dropStaleSnapshotParts(limit: limit)
    }

    private func reject(_ r: DurableBatch.Rejected, at now: Timestamp) throws {
        let peer = r.peer.map { JITAuditStore.PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(r.raw.count, 1), alignment: 1)
        defer { bytes.deallocate() }
        if !r.raw.isEmpty { bytes.copyBytes(from: r.raw) }
        try store.reject(r.rejection, raw: UnsafeRawBufferPointer(rebasing: bytes[0..<r.raw.count]), length: r.length, source: r.position.source,
                         line: r.position.line, offset: r.position.offset, peer: peer, receivedAt: now)
    }

    public func resume(restore: (EngineState) -> Void, feed: (UnsafeRawBufferPointer) -> Void,
                       advance: (Timestamp) -> Void) throws -> ResumePoint {
        let snap = try store.snapshot()
        if let snap { restore(snap.state) }
        var n = 0
        try store.forEachEvent(after: snap?.throughSeq ?? 0, mark: advance) { raw in
            n += 1
            feed(raw)
        }
        let cps = try store.checkpoints().mapValues {
            FileCheckpoint(path: $0.path, device: $0.device, inode: $0.inode, fingerprint: $0.fingerprint, offset: $0.offset, line: $0.line)
        }
        return ResumePoint(engineState: snap?.state, replayedEvents: n, fileCheckpoints: cps, unresolvedRequests: snap?.unresolvedRequests ?? 0)
    }

    public func prune(before cutoff: Timestamp, now: Timestamp) throws -> Int {
        let r = try store.prune(olderThan: cutoff, now: now)
        return r.events
    }

    public func repairDerivedFiles() throws -> String? {
        try store.reopenIndexFileIfReplaced()
    }
}
