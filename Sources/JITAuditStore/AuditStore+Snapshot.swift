import JITAuditCore

extension AuditStore {
    /// The engine state encoded for the `engine_snapshot` table. Touches no
    /// connection, so a writer can encode on another thread while it goes on
    /// writing, and store the result with ``saveSnapshot(encoded:throughSeq:at:)``.
    package static func encodeSnapshot(_ state: EngineState, path: String) throws(StoreError) -> [UInt8] {
        try SnapshotCodec.encode(state, path: path)
    }

    /// Stores an engine snapshot encoded by ``encodeSnapshot(_:path:)``, in a
    /// transaction of its own (none may be open). `throughSeq` is the newest
    /// event the state covers; it may be older than the head, since the state
    /// was taken while the writer went on (a resume feeds the engine the events
    /// after it). A snapshot never replaces a newer one. Returns whether it was stored.
    @discardableResult
    package func saveSnapshot(encoded: [UInt8], throughSeq: Int64, at now: Timestamp) throws(StoreError) -> Bool {
        guard let w = writer else { throw StoreError(.invalidState, "the database was opened for reading", path: path) }
        guard !w.inTransaction else {
            throw StoreError(.invalidState, "a snapshot is saved between batches, not inside one", path: path)
        }
        guard throughSeq <= w.committedHead.seq else {
            throw StoreError(.invalidState, "a snapshot through event \(throughSeq) is ahead of the log (\(w.committedHead.seq))", path: path)
        }
        try conn.exec("BEGIN IMMEDIATE", "starting a snapshot")
        do {
            let s = try conn.prepare("""
                INSERT INTO engine_snapshot (id, format, through_seq, state, taken_at) VALUES (1, ?1, ?2, ?3, ?4)
                ON CONFLICT (id) DO UPDATE SET format = excluded.format, through_seq = excluded.through_seq,
                    state = excluded.state, taken_at = excluded.taken_at
                WHERE excluded.through_seq >= engine_snapshot.through_seq
                """)
            s.bind(1, SnapshotCodec.format); s.bind(2, throughSeq); s.bindBlob(3, encoded); s.bind(4, now.micros)
            try s.run()
            let stored = conn.changes == 1
            try conn.exec("COMMIT", "committing a snapshot")
            return stored
        } catch {
            try? conn.exec("ROLLBACK")
            throw error
        }
    }
}
