import JITAuditCore

/// What a prune removed.
package struct PruneResult: Sendable, Equatable {
    package var events = 0
    package var rejections = 0
}

extension AuditStore {
    /// Deletes audit-log rows older than `cutoff` in batches of `batchSize`,
    /// each batch in its own transaction that also moves the chain's anchor to
    /// the last deleted row's hash, so `verifyChain` still proves the kept rows.
    ///
    /// The chain is cut at a prefix: rows are deleted in seq order up to the
    /// first row stamped at or after `cutoff` (so a few late-arriving old rows
    /// stay until the prefix reaches them), and never past the engine
    /// snapshot, whose later events a restart replays. Rejected lines received
    /// before `cutoff` go too. Findings are kept. The summary tables follow
    /// the deleted rows in the same transactions (see ``SummaryPrune``), and so do
    /// the key tables (``KeyIndexSchema``).
    @discardableResult
    package func prune(olderThan cutoff: Timestamp, batchSize: Int = 10_000, now: Timestamp) throws(StoreError) -> PruneResult {
        guard writer != nil else { throw StoreError(.invalidState, "the database was opened for reading", path: path) }
        try commit(at: now)
        // An index file deleted under this writer: its `ATTACH` below would
        // create an empty one and the prune would fail on its missing tables.
        if let note = try reopenIndexFileIfReplaced() { indexFileNote = note }
        // The rows to delete must be in the summaries and key tables first:
        // prune takes them out of those.
        try flushBulkTables()
        // The index file's tables lose the deleted rows in the same
        // transactions. SQLite commits two WAL files one after the other: a
        // crash between them leaves the index file's anchor unlike the log's,
        // and the next writer rebuilds it (``IndexFile``).
        try IndexFile.attach(conn, path: IndexFile.path(for: path), as: "idx")
        defer { try? conn.exec("\(IndexFile.dropViews) DETACH DATABASE idx") }
        try conn.exec(IndexFile.views, "creating the lookup views")
        var result = PruneResult()
        let c = try conn.prepare("SELECT head_seq, anchor_seq FROM chain WHERE id = 1")
        guard try c.step() else { throw StoreError(.corrupt, "the chain table has no head row", path: path) }
        let headSeq = c.int64(0)
        var anchor = c.int64(1)
        c.reset()  // an active statement would block the summary update's temporary table
        let snapshotSeq = try conn.scalarInt("SELECT through_seq FROM engine_snapshot WHERE id = 1") ?? 0
        let firstYoung = try conn.prepare("SELECT min(seq) FROM events WHERE ts >= ?1")
        firstYoung.bind(1, cutoff.micros)
        _ = try firstYoung.step()
        let keepFrom = min(firstYoung.optionalInt64(0) ?? headSeq + 1, snapshotSeq + 1)
        firstYoung.reset()

        let summary = try SummaryPrune(conn: conn)
        let hashOf = try conn.prepare("SELECT hash FROM events WHERE seq = ?1")
        let delete = try conn.prepare("DELETE FROM events WHERE seq >= ?1 AND seq < ?2")
        // The key tables lose the same rows (found by their whole key, so by primary key).
        let b = try KeyIndexWriter.bucketBits(conn)
        let unindex = [
            try conn.prepare("""
                DELETE FROM request_index WHERE (bucket, request_id, ts, seq) IN
                    (SELECT seq >> \(b), request_id, ts, seq FROM events WHERE seq >= ?1 AND seq < ?2)
                """),
            try conn.prepare("""
                DELETE FROM actor_index WHERE (bucket, actor_key, ts, seq) IN
                    (SELECT seq >> \(b), actor_key, ts, seq FROM events WHERE seq >= ?1 AND seq < ?2)
                """),
            // Buckets wholly before the first kept row are empty now.
            try conn.prepare("DELETE FROM index_buckets WHERE bucket < (?2 >> \(b))"),
        ]
        let move = try conn.prepare("UPDATE chain SET anchor_seq = ?1, anchor_hash = ?2 WHERE id = 1")
        let moveIndex = try conn.prepare("UPDATE idx.index_state SET anchor_seq = ?1 WHERE id = 1")
        while anchor < keepFrom {
            let end = min(anchor + Int64(max(1, batchSize)), keepFrom)
            try conn.exec("BEGIN IMMEDIATE", "starting a prune batch")
            do throws(StoreError) {
                hashOf.bind(1, end - 1)
                guard try hashOf.step(), let h = hashOf.blob(0), h.count == 32 else {
                    hashOf.reset()
                    throw StoreError(.corrupt, "row \(end - 1) of the audit log is missing; run `jitaudit verify` before pruning", path: path)
                }
                hashOf.reset()
                try summary.beforeDeleting(from: anchor, to: end)
                for u in unindex {
                    u.bind(1, anchor); u.bind(2, end)
                    try u.run()
                }
                delete.bind(1, anchor); delete.bind(2, end)
                try delete.run()
                result.events += conn.changes
                try summary.afterDeleting()
                move.bind(1, end); move.bindBlob(2, h)
                try move.run()
                moveIndex.bind(1, end)
                try moveIndex.run()
                try conn.exec("COMMIT", "committing a prune batch")
            } catch {
                try? conn.exec("ROLLBACK")
                throw error
            }
            anchor = end
        }
        let rejections = try conn.prepare("DELETE FROM rejections WHERE id IN (SELECT id FROM rejections WHERE received_at < ?1 LIMIT ?2)")
        while true {
            rejections.bind(1, cutoff.micros); rejections.bind(2, batchSize)
            try rejections.run()
            let n = conn.changes
            result.rejections += n
            if n == 0 { break }
        }
        return result
    }
}
