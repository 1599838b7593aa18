/// The report's reads of the summary tables (schema migration 2, see
/// ``SummarySchema``).
extension ReportQueries {
    /// The newest event the summary tables hold: the writer adds events to
    /// them in bulk, like the lookup tables (see ``BulkMarkersSchema``); the
    /// report adds the events after it itself. Nil for a store that writes
    /// them with every commit (schema 2).
    func summariesThrough() throws(StoreError) -> Int64? {
        guard try conn.hasKeyIndex() else { return nil }
        return try BulkTable.summaries.through(conn)
    }

    /// `report_tail`: the request ids of the events after `through`, whose
    /// summary rows are not complete yet (they are recomputed from their events).
    func noteTailRequests(after through: Int64?) throws(StoreError) {
        try query("CREATE TEMP TABLE report_tail (request_id TEXT PRIMARY KEY) WITHOUT ROWID") { _ throws(StoreError) in }
        if let through {
            try query("INSERT OR IGNORE INTO report_tail SELECT request_id FROM events WHERE seq > ?4", [.int(through)]) { _ throws(StoreError) in }
        }
    }

    /// Events per type in `[previous since, since)` and `[since, until)`: the
    /// hourly counts of the whole hours inside each (plus the events after
    /// `tailAfter` in them, not counted there yet), the events of the partial
    /// hours at their ends (through the time index).
    func countEventsFromHours(tailAfter through: Int64?) throws(StoreError) {
        var counts: [String: [Int]] = [:]
        for (period, (from, to)) in [(p, s), (s, u)].enumerated() {
            let firstHour = SummarySchema.hour(from - 1) + 1, endHour = SummarySchema.hour(to)
            var edges = [(from, to)]
            if firstHour < endHour {
                let h = SummarySchema.hourMicros
                edges = [(from, firstHour * h), (endHour * h, to)]
                try query("SELECT event, sum(n) FROM event_hours WHERE hour >= ?4 AND hour < ?5 GROUP BY event",
                          [.int(firstHour), .int(endHour)]) { (st) throws(StoreError) in
                    counts[st.string(0), default: [0, 0]][period] += st.int(1)
                }
                if let through {
                    try query("SELECT event, count(*) FROM events WHERE seq > ?4 AND +ts >= ?5 AND +ts < ?6 GROUP BY event",
                              [.int(through), .int(firstHour * h), .int(endHour * h)]) { (st) throws(StoreError) in
                        counts[st.string(0), default: [0, 0]][period] += st.int(1)
                    }
                }
            }
            for (a, b) in edges where a < b {
                try query("SELECT event, count(*) FROM events WHERE ts >= ?4 AND ts < ?5 GROUP BY event",
                          [.int(a), .int(b)]) { (st) throws(StoreError) in
                    counts[st.string(0), default: [0, 0]][period] += st.int(1)
                }
            }
        }
        try query("CREATE TEMP TABLE report_counts (event TEXT, c INTEGER, p INTEGER)") { _ throws(StoreError) in }
        for (event, n) in counts {
            try query("INSERT INTO report_counts VALUES (?4, ?5, ?6)", [.text(event), .int(Int64(n[1])), .int(Int64(n[0]))]) { _ throws(StoreError) in }
        }
    }

    /// The regular requests made in the periods, from their summary rows: one
    /// `request` event and nothing closed them before it, so the period sees
    /// their first decision and first closing event when these are before its end.
    func addRegularRequests(to figures: inout RequestFigures) throws(StoreError) {
        // A short period finds its requests through the events' time index (a
        // regular row's one request event is at its rts); a period spanning more
        // than a thirtieth of the log reads the table whole, in storage order: a row
        // found by key costs about 3 µs, a row the scan skips under 0.1 µs
        // (10M-event bench store). No index on rts: the writer would keep it for
        // every request, for short reports only.
        var span = (0, 0)
        try query("SELECT (SELECT min(ts) FROM events), (SELECT max(ts) FROM events)") { (st) throws(StoreError) in span = (st.int(0), st.int(1)) }
        let whole = (u - p) * 30 > Int64(span.1 - span.0)
        let columns = "r.rts, r.requester, r.priority, r.environment, r.dts, r.dkind, r.approver, r.cts, r.request_id"
        // Requests with events after the summaries' end are recomputed from their events instead.
        let tail = try scalar("SELECT count(*) FROM temp.report_tail") > 0 ? " AND r.request_id NOT IN (SELECT request_id FROM temp.report_tail)" : ""
        let regular = "r.nreq = 1 AND (r.cts IS NULL OR r.cts >= r.rts)" + tail
        let sql = whole
            ? "SELECT \(columns) FROM requests r WHERE +r.rts >= ?1 AND +r.rts < ?3 AND \(regular)"  // + : never through an index
            : """
              SELECT \(columns) FROM events e INDEXED BY events_ts CROSS JOIN requests r ON r.request_id = e.request_id
              WHERE e.ts >= ?1 AND e.ts < ?3 AND e.event = 'request' AND r.rts = e.ts AND \(regular)
              """
        let names = figures.names
        try query(sql) { (st) throws(StoreError) in
            let dts = st.isNull(4) ? nil : Optional(st.int64(4))
            let decided = dts.map { $0 < u } ?? false
            let closed = !st.isNull(7) && st.int64(7) < u
            figures.add(rts: st.int64(0), requester: names.id(st, 1), priority: names.id(st, 2), environment: names.id(st, 3),
                        dts: decided ? dts : nil, dkind: decided ? names.id(st, 5) : -1, approver: decided ? names.id(st, 6) : -1,
                        closed: closed, requestID: { st.string(8) })
        }
    }
}
