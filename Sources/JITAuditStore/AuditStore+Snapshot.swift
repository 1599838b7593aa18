import JITAuditCore

extension AuditStore {
    /// The engine state encoded for the `engine_snapshot` table. Touches no
    /// connection, so a writer can encode on another thread while it goes on
    /// writing, and store the result with ``saveSnapshot(encoded:throughSeq:at:)``.
    package static func encodeSnapshot(_ state: consuming EngineState, path: String) throws(StoreError) -> [UInt8] {
        try SnapshotCodec.encode(consume state, path: path)
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
        return try inOwnTransaction("a snapshot") { () throws(StoreError) in
            try setSnapshot(state: encoded, parts: 0, generation: 0, throughSeq: throughSeq, at: now)
        }
    }

    /// Bytes per part when the daemon saves a snapshot in parts: a fraction
    /// of a millisecond of the writer's time each. With 1 MiB parts each one
    /// held a commit, and the findings in it, for 1–3 ms: at 50,000 events/s
    /// p99 event-to-finding 4.6–6.1 ms, with 256 KiB 4.0–4.7 ms (`scripts/bench-live`).
    package static let snapshotPartBytes = 256 << 10

    /// Stores part `index` of the snapshot being saved in parts, in a
    /// transaction of its own; part 0 starts a new one. Commits may run
    /// between parts. See ``SnapshotPartsSchema``.
    package func stageSnapshotPart(_ bytes: [UInt8], index: Int) throws(StoreError) {
        guard writer != nil else { throw StoreError(.invalidState, "the database was opened for reading", path: path) }
        guard !writer!.inTransaction else {
            throw StoreError(.invalidState, "a snapshot is saved between batches, not inside one", path: path)
        }
        if index == 0 {
            let newest = try conn.scalarInt("""
                SELECT max(g) FROM (SELECT max(generation) AS g FROM engine_snapshot_parts UNION ALL SELECT generation FROM engine_snapshot)
                """) ?? 0
            writer!.stagingGeneration = newest + 1
        }
        guard writer!.stagingGeneration > 0 else { throw StoreError(.invalidState, "snapshot parts start at part 0", path: path) }
        let generation = writer!.stagingGeneration
        try inOwnTransaction("a snapshot part") { () throws(StoreError) in
            let s = try conn.prepare("INSERT INTO engine_snapshot_parts (generation, part, data) VALUES (?1, ?2, ?3)")
            s.bind(1, generation); s.bind(2, index); s.bindBlob(3, bytes)
            try s.run()
        }
    }

    /// Makes the `parts` parts staged since part 0 the current snapshot,
    /// unless a newer one is stored (as ``saveSnapshot(encoded:throughSeq:at:)``).
    /// The parts of other generations stay until ``dropStaleSnapshotParts(limit:)``
    /// removes them: deleting tens of megabytes here held the writer, and
    /// every commit behind it, for 120 ms (`scripts/bench-live`). Returns
    /// whether it was stored.
    @discardableResult
    package func saveStagedSnapshot(parts: Int, throughSeq: Int64, at now: Timestamp) throws(StoreError) -> Bool {
        guard let w = writer else { throw StoreError(.invalidState, "the database was opened for reading", path: path) }
        guard !w.inTransaction else {
            throw StoreError(.invalidState, "a snapshot is saved between batches, not inside one", path: path)
        }
        guard throughSeq <= w.committedHead.seq else {
            throw StoreError(.invalidState, "a snapshot through event \(throughSeq) is ahead of the log (\(w.committedHead.seq))", path: path)
        }
        let generation = w.stagingGeneration
        writer!.stagingGeneration = 0
        return try inOwnTransaction("a snapshot") { () throws(StoreError) in
            let staged = try conn.prepare("SELECT count(*), coalesce(max(part), -1) FROM engine_snapshot_parts WHERE generation = ?1")
            staged.bind(1, generation)
            _ = try staged.step()
            guard generation > 0, parts > 0, staged.int(0) == parts, staged.int(1) == parts - 1 else {
                throw StoreError(.invalidState, "the snapshot's \(parts) parts were not all staged", path: path)
            }
            staged.reset()
            return try setSnapshot(state: [], parts: parts, generation: generation, throughSeq: throughSeq, at: now, dropParts: false)
        }
    }

    /// Deletes up to `limit` parts of snapshots that are not current (older
    /// generations, a save cut short), in a transaction of its own. Returns
    /// whether any are left. Readers only read the current generation's parts,
    /// so the others are harmless until then.
    @discardableResult
    package func dropStaleSnapshotParts(limit: Int) throws(StoreError) -> Bool {
        guard writer != nil else { throw StoreError(.invalidState, "the database was opened for reading", path: path) }
        guard !writer!.inTransaction else {
            throw StoreError(.invalidState, "snapshot parts are removed between batches, not inside one", path: path)
        }
        // The generation being staged is not stale.
        let staging = writer!.stagingGeneration
        return try inOwnTransaction("removing old snapshot parts") { () throws(StoreError) in
            let stale = "generation <> coalesce((SELECT generation FROM engine_snapshot WHERE id = 1), 0) AND generation <> ?1"
            let d = try conn.prepare("DELETE FROM engine_snapshot_parts WHERE rowid IN (SELECT rowid FROM engine_snapshot_parts WHERE \(stale) LIMIT ?2)")
            d.bind(1, staging); d.bind(2, max(1, limit))
            try d.run()
            let left = try conn.prepare("SELECT EXISTS (SELECT 1 FROM engine_snapshot_parts WHERE \(stale))")
            left.bind(1, staging)
            _ = try left.step()
            return left.int(0) == 1
        }
    }

    /// Upserts the snapshot row unless a newer one is stored, then drops the
    /// parts no longer current (unless `dropParts` is false). Inside a transaction.
    private func setSnapshot(state: [UInt8], parts: Int, generation: Int64, throughSeq: Int64, at now: Timestamp,
                             dropParts: Bool = true) throws(StoreError) -> Bool {
        let s = try conn.prepare("""
            INSERT INTO engine_snapshot (id, format, through_seq, state, taken_at, parts, generation) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (id) DO UPDATE SET format = excluded.format, through_seq = excluded.through_seq,
                state = excluded.state, taken_at = excluded.taken_at, parts = excluded.parts, generation = excluded.generation
            WHERE excluded.through_seq >= engine_snapshot.through_seq
            """)
        s.bind(1, SnapshotCodec.format); s.bind(2, throughSeq); s.bindBlob(3, state); s.bind(4, now.micros)
        s.bind(5, parts); s.bind(6, generation)
        try s.run()
        let stored = conn.changes == 1
        if dropParts {
            try conn.exec("DELETE FROM engine_snapshot_parts WHERE generation <> (SELECT generation FROM engine_snapshot WHERE id = 1)",
                          "removing old snapshot parts")
        }
        try conn.exec("DELETE FROM watermark_marks WHERE seq < (SELECT through_seq FROM engine_snapshot WHERE id = 1)",
                      "removing old watermark marks")
        return stored
    }

    private func inOwnTransaction<R>(_ what: String, _ body: () throws(StoreError) -> R) throws(StoreError) -> R {
        try conn.exec("BEGIN IMMEDIATE", "starting \(what)")
        do {
            let r = try body()
            try conn.exec("COMMIT", "committing \(what)")
            return r
        } catch {
            try? conn.exec("ROLLBACK")
            throw error
        }
    }
}
