extension AuditStore {
    /// Checks the key tables against the audit log (see ``KeyIndexSchema``):
    /// every row must name an event with that key and time, at or before
    /// its marker in `index_state`, and every such event must have its row. A
    /// key row deleted by hand would hide an event from lookups by request
    /// or actor while its hash chain stays intact, so `verify` reports it.
    ///
    /// Since schema 7 the tables are in the index file (``IndexFile``): a
    /// writer checks what it has committed there through a reader of its own.
    /// A missing index file, or one of another log or of an interrupted prune,
    /// hides nothing (readers do not use it, the next writer rebuilds it): it
    /// is not a problem of the log, and ``indexFileNote`` says so.
    func keyIndexProblem() throws(StoreError) -> ChainReport.Problem? {
        if mode == .write && bulk != nil {
            bulk!.settle()
            return try AuditStore(path: path, mode: .read, options: options).keyIndexProblem()
        }
        if indexFileAttached {
            return try keyIndexProblem(in: "idx")
        }
        guard try conn.hasKeyIndex() else { return nil }
        if try conn.hasIndexFileSchema() { return nil }
        return try keyIndexProblem(in: "main")
    }

    /// The check on the key tables of `schema` (`main` before schema 7, `idx` after).
    private func keyIndexProblem(in schema: String) throws(StoreError) -> ChainReport.Problem? {
        let s = schema
        let bits = try KeyIndexWriter.bucketBits(conn, schema: s)
        let head = try conn.scalarInt("SELECT head_seq FROM main.chain WHERE id = 1") ?? 0
        let markers = try conn.hasBulkMarkers(schema: s) ? BulkTable.allCases : [.requestIndex]
        for t in markers {
            let through = try t.through(conn, schema: s)
            if through > head {
                // The writer would never add the events between the head and it, hiding them from lookups and reports.
                return .init(seq: through, reason: "index_state.\(t.marker) is past the newest row (\(head)): the table was altered by hand"
                             + (s == "idx" ? " (or the log lost its last commits in a power cut; the next writer rebuilds the index file)" : ""))
            }
        }
        for (bulk, table, column) in [(BulkTable.requestIndex, "request_index", "request_id"), (.actorIndex, "actor_index", "actor_key")] {
            let through = try bulk.through(conn, schema: s)
            let stray = try conn.prepare("""
                SELECT k.seq, CASE WHEN e.seq IS NULL THEN 1 WHEN k.seq > ?1 THEN 2
                                   WHEN NOT EXISTS (SELECT 1 FROM \(s).index_buckets b WHERE b.bucket = k.bucket) THEN 4 ELSE 3 END
                FROM \(s).\(table) k LEFT JOIN main.events e ON e.seq = k.seq
                WHERE e.seq IS NULL OR e.\(column) IS NOT k.\(column) OR e.ts IS NOT k.ts OR k.seq > ?1
                   OR k.bucket IS NOT (k.seq >> \(bits))
                   OR NOT EXISTS (SELECT 1 FROM \(s).index_buckets b WHERE b.bucket = k.bucket) LIMIT 1
                """)
            stray.bind(1, through)
            if try stray.step() {
                let what = ["names no event of the log", "is past index_state.\(try conn.hasBulkMarkers(schema: s) ? bulk.marker : "through_seq") (\(through))",
                            "does not match the event's \(column), time and bucket", "is in a bucket that index_buckets does not list"][stray.int(1) - 1]
                return .init(seq: stray.int64(0), reason: "the \(table) row of this seq \(what): the table was altered by hand")
            }
            // With no stray row, equal counts mean every event has its row (the key includes the seq).
            let rows = try conn.scalarInt("SELECT count(*) FROM \(s).\(table)") ?? 0
            let indexed = try conn.prepare("SELECT count(*) FROM main.events WHERE seq <= ?1")
            indexed.bind(1, through)
            _ = try indexed.step()
            if indexed.int64(0) == rows { continue }
            let missing = try conn.prepare("""
                SELECT e.seq FROM main.events e WHERE e.seq <= ?1
                AND NOT EXISTS (SELECT 1 FROM \(s).\(table) k
                                WHERE k.bucket = e.seq >> \(bits) AND k.\(column) = e.\(column) AND k.ts = e.ts AND k.seq = e.seq) LIMIT 1
                """)
            missing.bind(1, through)
            if try missing.step() {
                return .init(seq: missing.int64(0),
                             reason: "the event has no row in \(table) (lookups by \(column) would not find it): the table was altered by hand")
            }
        }
        return nil
    }
}
