/// Writes a ``SummaryBatch`` into the summary tables, in the writer's open
/// transaction, just before it commits.
struct SummaryWriter {
    let upsertRequest: Statement
    let upsertHour: Statement

    init(conn: Connection) throws(StoreError) {
        // Each SET reads the row's old values: a field changes only when the
        // batch's value comes first (see SummaryBatch.Request for the order).
        upsertRequest = try conn.prepare("""
            INSERT INTO requests (request_id, nreq, rts, requester, priority, environment, dts, dkind, approver, cts)
            VALUES (?1, ?2, ?3, lower(trim(?4)), ?5, ?6, ?7, ?8, ?9, ?10)
            ON CONFLICT (request_id) DO UPDATE SET
                nreq = nreq + excluded.nreq,
                rts = iif(excluded.rts < rts OR rts IS NULL, coalesce(excluded.rts, rts), rts),
                requester = iif(excluded.rts < rts OR (rts IS NULL AND excluded.rts IS NOT NULL), excluded.requester, requester),
                priority = iif(excluded.rts < rts OR (rts IS NULL AND excluded.rts IS NOT NULL), excluded.priority, priority),
                environment = iif(excluded.rts < rts OR (rts IS NULL AND excluded.rts IS NOT NULL), excluded.environment, environment),
                dts = iif(\(Self.earlierDecision), excluded.dts, dts),
                dkind = iif(\(Self.earlierDecision), excluded.dkind, dkind),
                approver = iif(\(Self.earlierDecision), excluded.approver, approver),
                cts = iif(excluded.cts < cts OR cts IS NULL, coalesce(excluded.cts, cts), cts)
            """)
        upsertHour = try conn.prepare("""
            INSERT INTO event_hours (hour, event, n) VALUES (?1, ?2, ?3)
            ON CONFLICT (hour, event) DO UPDATE SET n = n + excluded.n
            """)
    }

    /// The row's events were all stored before the batch's: at the same time, the row's stays.
    private static let earlierDecision = "(excluded.dts < dts OR (dts IS NULL AND excluded.dts IS NOT NULL))"

    func write(_ batch: SummaryBatch) throws(StoreError) {
        let s = upsertRequest
        // In id order (String order: the byte order for ASCII ids, and cheaper to
        // sort): consecutive lookups of the id index land on the same or nearby pages.
        for (id, r) in batch.requests.sorted(by: { $0.key < $1.key }) {
            s.bind(1, id); s.bind(2, r.nreq); s.bind(3, r.rts); s.bind(4, r.requester); s.bind(5, r.priority)
            s.bind(6, r.environment); s.bind(7, r.dts); s.bind(8, r.dkind?.description); s.bind(9, r.approver); s.bind(10, r.cts)
            try s.run()
        }
        for (k, n) in batch.hours {
            upsertHour.bind(1, k.hour); upsertHour.bind(2, k.kind.description); upsertHour.bind(3, n)
            try upsertHour.run()
        }
    }
}
