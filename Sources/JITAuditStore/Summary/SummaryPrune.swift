/// Keeps the summary tables equal to the events when prune deletes a range of
/// rows, inside the prune batch's transaction: the hourly counts lose the
/// deleted rows, and each request id that lost an event is recomputed from the
/// events it keeps (a min cannot be taken back, so its row is rebuilt).
struct SummaryPrune {
    let conn: Connection
    let collectIDs: Statement
    let subtractHours: Statement

    init(conn: Connection) throws(StoreError) {
        self.conn = conn
        try conn.exec("""
            CREATE TEMP TABLE IF NOT EXISTS summary_ids (request_id TEXT PRIMARY KEY) WITHOUT ROWID;
            DELETE FROM temp.summary_ids;
            """, "preparing the summary update")
        collectIDs = try conn.prepare("INSERT OR IGNORE INTO temp.summary_ids SELECT request_id FROM events WHERE seq >= ?1 AND seq < ?2")
        subtractHours = try conn.prepare("""
            INSERT INTO event_hours (hour, event, n)
                SELECT \(SummarySchema.hourSQL("ts")) AS h, event, -count(*) FROM events WHERE seq >= ?1 AND seq < ?2 GROUP BY h, event
            ON CONFLICT (hour, event) DO UPDATE SET n = n + excluded.n
            """)
    }

    /// Before rows `[from, to)` go: notes their request ids, takes them off the hourly counts.
    func beforeDeleting(from: Int64, to: Int64) throws(StoreError) {
        collectIDs.bind(1, from); collectIDs.bind(2, to)
        try collectIDs.run()
        subtractHours.bind(1, from); subtractHours.bind(2, to)
        try subtractHours.run()
    }

    /// After they went: rebuilds the noted ids' rows from the events left.
    func afterDeleting() throws(StoreError) {
        let ids = "request_id IN (SELECT request_id FROM temp.summary_ids)"
        let events = KeyIndexSchema.requestFilter("IN (SELECT request_id FROM temp.summary_ids)", indexed: try conn.hasKeyIndex())
        try conn.exec("""
            DELETE FROM event_hours WHERE n = 0;
            DELETE FROM requests WHERE \(ids);
            \(SummarySchema.requestsSQL(filter: events))
            DELETE FROM temp.summary_ids;
            """, "updating the report summaries")
    }
}
