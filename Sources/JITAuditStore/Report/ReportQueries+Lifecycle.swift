extension ReportQueries {
    /// Fills `report_counts` (events per type and period) and the per-request
    /// figures (see ``RequestFigures``): from the summary tables where the
    /// store has them, else from one pass over the periods' events.
    func buildLifecycle() throws(StoreError) {
        var figures = RequestFigures(since: s, until: u)
        if request.useSummaries, !Self.fromEvents, try hasTable("requests") {
            let through = try summariesThrough()
            try noteTailRequests(after: through)
            try countEventsFromHours(tailAfter: through)
            try addRegularRequests(to: &figures)
            // The other requests as the events path sees them, from their own
            // events: irregular rows, and the ids of events the summaries do not have yet.
            try query("""
                CREATE TEMP TABLE report_irregular AS
                SELECT request_id FROM requests INDEXED BY requests_irregular WHERE (nreq > 1 OR cts < rts) AND rts < ?3
                UNION SELECT request_id FROM temp.report_tail
                """) { _ throws(StoreError) in }
            if try scalar("SELECT count(*) FROM report_irregular") > 0 {
                // Their events, read in (request id, time, seq) order as the
                // grouping's bare columns need (first decision: the one stored first).
                let irregular = KeyIndexSchema.requestFilter("IN (SELECT request_id FROM temp.report_irregular)", indexed: try conn.hasKeyIndex())
                try query("""
                    CREATE TEMP TABLE report_ie AS
                    SELECT request_id, ts, seq, event, actor_key, requester, priority,
                           CASE WHEN event = 'request' THEN json_extract(raw, '$.environment') END AS environment
                    FROM events WHERE \(irregular) AND +ts >= ?1 AND +ts < ?3
                    """) { _ throws(StoreError) in }
                try query("CREATE INDEX temp.report_ie_order ON report_ie (request_id, ts, seq)") { _ throws(StoreError) in }
                try groupRequests(source: "report_ie INDEXED BY report_ie_order", environment: "environment", counts: false)
                try query("DROP TABLE temp.report_ie") { _ throws(StoreError) in }
                try addGroupedRequests(to: &figures)
            }
        } else {
            try groupEvents()
            try addGroupedRequests(to: &figures)
        }
        try figures.store(self)
    }

    /// The rows of `report_rq` (requests as grouped from their events).
    func addGroupedRequests(to figures: inout RequestFigures) throws(StoreError) {
        let names = figures.names
        try query("""
            SELECT rts, requester, priority, environment, dts, dkind, approver, closes, request_id FROM report_rq WHERE rts >= ?1 AND rts < ?3
            """) { (st) throws(StoreError) in
            let dts = st.isNull(4) ? nil : Optional(st.int64(4))
            figures.add(rts: st.int64(0), requester: names.id(st, 1), priority: names.id(st, 2), environment: names.id(st, 3),
                        dts: dts, dkind: names.id(st, 5), approver: names.id(st, 6), closed: st.int(7) > 0, requestID: { st.string(8) })
        }
    }

    /// Fills `report_g` and `report_rq` in one pass over `[previous since, until)`,
    /// and `report_counts` (events per type and period).
    func groupEvents() throws(StoreError) {
        // The whole index costs about a third of what the time index, a row
        // lookup and a sort cost per event: worth it when the periods hold more
        // than a third of the log (and more than a few events).
        var wide = try hasIndex("events_lifecycle")
        if wide {
            let inPeriods = try scalar("SELECT count(*) FROM events WHERE ts >= ?1 AND ts < ?3")
            let stored = try scalar("SELECT coalesce((SELECT max(seq) FROM events) - (SELECT min(seq) FROM events) + 1, 0)")
            wide = inPeriods > request.wideScanThreshold && inPeriods * 3 > stored
        }
        // A stored or generated `environment` column (which the lifecycle index can
        // cover) where the schema has one, else the request's raw JSON.
        var env = try scalar("SELECT count(*) FROM pragma_table_xinfo('events') WHERE name = 'environment'") > 0
            ? "environment" : "json_extract(raw, '$.environment')"
        let source: String
        if wide {
            source = "events INDEXED BY events_lifecycle WHERE +ts >= ?1 AND +ts < ?3"
        } else {
            // The period's rows without their raw text first: grouping them then
            // sorts small records, not every event's JSON.
            try query("""
                CREATE TEMP TABLE report_e AS
                SELECT request_id, ts, event, actor_key, requester, priority, CASE WHEN event = 'request' THEN \(env) END AS environment
                FROM events WHERE ts >= ?1 AND ts < ?3
                """) { _ throws(StoreError) in }
            source = "report_e"
            env = "environment"
            try query("""
                CREATE TEMP TABLE report_counts AS
                SELECT event, count(CASE WHEN ts >= ?2 THEN 1 END) AS c, count(CASE WHEN ts < ?2 THEN 1 END) AS p
                FROM report_e GROUP BY event
                """) { _ throws(StoreError) in }
        }
        try groupRequests(source: source, environment: env, counts: wide)
        try query("DROP TABLE IF EXISTS temp.report_e") { _ throws(StoreError) in }
    }

    /// Groups the events of `source` by request id into `report_g`, then keeps
    /// in `report_rq` those with a `request` event there; with `counts`, also
    /// fills `report_counts` from the same pass.
    func groupRequests(source: String, environment env: String, counts withCounts: Bool) throws(StoreError) {
        // On the wide path the event counts per type ride along in the one pass.
        var counts: [String] = []
        for (n, t) in Self.eventTypes.enumerated() where withCounts {
            counts.append(",\n       count(CASE WHEN event = '\(t)' AND ts >= ?2 THEN 1 END) AS c\(n)")
            counts.append(", count(CASE WHEN event = '\(t)' AND ts < ?2 THEN 1 END) AS p\(n)")
        }
        // One row per request id. The request's own fields are gathered with
        // group_concat (exactly the value for the one `request` event a request
        // has; for a duplicated request id, one of them is kept below), so the
        // single min() makes SQLite take the bare columns event and actor_key
        // from the first decision's row.
        let sep = "char(31)"
        try query("""
            CREATE TEMP TABLE report_g AS
            SELECT request_id,
                   group_concat(CASE WHEN event = 'request' THEN ts END, \(sep)) AS rts,
                   group_concat(CASE WHEN event = 'request' THEN priority END, \(sep)) AS priority,
                   group_concat(CASE WHEN event = 'request' THEN \(env) END, \(sep)) AS environment,
                   group_concat(CASE WHEN event = 'request' THEN requester END, \(sep)) AS requester,
                   min(CASE WHEN event = 'approve' OR event = 'reject' THEN ts END) AS dts, event AS dkind, actor_key AS approver,
                   count(CASE WHEN event = 'approve' OR event = 'reject' OR event = 'cancel' OR event = 'expire' THEN 1 END) AS closes\(counts.joined())
            FROM \(source)
            GROUP BY request_id
            """) { _ throws(StoreError) in }
        if withCounts {
            let sums = Self.eventTypes.indices.map { "total(c\($0)) AS c\($0), total(p\($0)) AS p\($0)" }.joined(separator: ", ")
            let rows = Self.eventTypes.enumerated().map { "SELECT '\($1)', c\($0), p\($0) FROM t" }.joined(separator: " UNION ALL ")
            try query("CREATE TEMP TABLE report_counts AS WITH t AS MATERIALIZED (SELECT \(sums) FROM report_g) \(rows)") { _ throws(StoreError) in }
        }
        func first(_ column: String) -> String {
            "CASE WHEN instr(\(column), \(sep)) > 0 THEN substr(\(column), 1, instr(\(column), \(sep)) - 1) ELSE \(column) END"
        }
        // A decision before its request (a clock problem upstream) gives no latency.
        try query("""
            CREATE TEMP TABLE report_rq AS
            SELECT request_id, CAST(rts AS INTEGER) AS rts, \(first("priority")) AS priority, \(first("environment")) AS environment,
                   lower(trim(\(first("requester")))) AS requester,
                   CASE WHEN dts >= CAST(rts AS INTEGER) THEN dts END AS dts,
                   CASE WHEN dts >= CAST(rts AS INTEGER) THEN dkind END AS dkind,
                   CASE WHEN dts >= CAST(rts AS INTEGER) THEN approver END AS approver,
                   closes
            FROM report_g WHERE rts IS NOT NULL
            """) { _ throws(StoreError) in }
    }

    /// Events by type (current, previous) and request counts from the lifecycle tables.
    func overviewCounts() throws(StoreError) -> (events: [ReportData.Compared], requests: (ReportData.Compared, ReportData.Compared, ReportData.Compared)) {
        var byType: [String: (Int, Int)] = [:]
        try query("SELECT * FROM report_counts") { (st) throws(StoreError) in byType[st.string(0)] = (st.int(1), st.int(2)) }
        let events = Self.eventTypes.map { t in ReportData.Compared(key: t, current: byType[t]?.0 ?? 0, previous: byType[t]?.1 ?? 0) }
        var r = (ReportData.Compared(key: "made", current: 0, previous: 0),
                 ReportData.Compared(key: "decided", current: 0, previous: 0),
                 ReportData.Compared(key: "approved", current: 0, previous: 0))
        try query("SELECT cur, made, decided, approved FROM report_made") { (st) throws(StoreError) in
            if st.int(0) == 1 { r.0.current = st.int(1); r.1.current = st.int(2); r.2.current = st.int(3) } else {
                r.0.previous = st.int(1); r.1.previous = st.int(2); r.2.previous = st.int(3)
            }
        }
        return (events, r)
    }

    /// Latency, pending requests and stale requests by environment.
    func bottlenecks() throws(StoreError) -> ReportData.Bottlenecks {
        // Decisions per (environment, second): the overall figures and the
        // histogram are sums over it.
        let overall = try latency(counts: "SELECT 'all' AS k, sec, sum(n) AS n FROM report_lat GROUP BY sec", limit: 1).first
            ?? ReportData.LatencyStats(key: "all", decisions: 0, p50: nil, p90: nil, p99: nil, max: nil)
        let latency = ReportData.Latency(
            overall: overall,
            byEnvironment: try latency(counts: "SELECT k, sec, n FROM report_lat", limit: 50),
            byPriority: try latency(counts: "SELECT k, sec, n FROM report_lat_pri", limit: 10).sorted { Self.priorityRank($0.key) > Self.priorityRank($1.key) },
            byApprover: try latency(counts: "SELECT k, sec, n FROM report_lat_appr", limit: request.top),
            histogram: try buckets(Self.latencyBuckets, source: "SELECT sec AS v, n FROM report_lat"))
        let medians = Dictionary(latency.byEnvironment.map { ($0.key, $0.p50) }, uniquingKeysWith: { a, _ in a })
        return ReportData.Bottlenecks(latency: latency, pending: try pending(), stale: try stale(medians: medians))
    }

    static func priorityRank(_ p: String) -> Int { ["low": 0, "normal": 1, "high": 2, "critical": 3][p] ?? -1 }

    /// Nearest-rank percentiles of whole-second latencies per key, from
    /// `counts` (rows of key `k`, second `sec`, decisions `n`): a running sum
    /// per key, the first second reaching p·n.
    func latency(counts: String, limit: Int) throws(StoreError) -> [ReportData.LatencyStats] {
        var out: [ReportData.LatencyStats] = []
        try query("""
            WITH c AS (\(counts)),
                 w AS (SELECT k, sec, sum(n) OVER (PARTITION BY k ORDER BY sec ROWS UNBOUNDED PRECEDING) AS cum,
                              sum(n) OVER (PARTITION BY k) AS total FROM c)
            SELECT k, total,
                   min(CASE WHEN cum * 100 >= total * 50 THEN sec END),
                   min(CASE WHEN cum * 100 >= total * 90 THEN sec END),
                   min(CASE WHEN cum * 100 >= total * 99 THEN sec END),
                   max(sec)
            FROM w GROUP BY k ORDER BY total DESC, k LIMIT ?4
            """, [.int(Int64(limit))]) { (st) throws(StoreError) in
            out.append(.init(key: st.string(0, "(none)"), decisions: st.int(1), p50: st.optionalInt(2), p90: st.optionalInt(3),
                             p99: st.optionalInt(4), max: st.optionalInt(5)))
        }
        return out
    }

    static let latencyBuckets: [(String, Int)] = [
        ("<1m", 0), ("1–5m", 60), ("5–15m", 300), ("15–30m", 900), ("30–60m", 1800),
        ("1–2h", 3600), ("2–4h", 7200), ("4–8h", 14_400), ("8–24h", 28_800), ("≥24h", 86_400),
    ]
    static let ageBuckets: [(String, Int)] = [
        ("<1h", 0), ("1–4h", 3600), ("4–24h", 14_400), ("1–3d", 86_400), ("3–7d", 259_200), ("≥7d", 604_800),
    ]

    /// Sums of `n` per bucket of `v` (seconds), over the rows of `source`.
    func buckets(_ bounds: [(String, Int)], source: String) throws(StoreError) -> [ReportData.Bucket] {
        var cases = "CASE"
        for (i, b) in bounds.enumerated().reversed() { cases += " WHEN v >= \(b.1) THEN \(i)" }
        cases += " ELSE 0 END"
        var counts = [Int](repeating: 0, count: bounds.count)
        try query("SELECT \(cases) AS b, total(n) FROM (\(source)) GROUP BY b") { (st) throws(StoreError) in
            counts[st.int(0)] = st.int(1)
        }
        return bounds.enumerated().map { i, b in
            .init(label: b.0, from: b.1, to: i + 1 < bounds.count ? bounds[i + 1].1 : nil, count: counts[i])
        }
    }

    func pending() throws(StoreError) -> ReportData.Pending {
        var oldest: [ReportData.PendingRequest] = []
        try query("""
            SELECT request_id, requester, rts, priority, environment FROM report_pending ORDER BY rts, request_id LIMIT 50
            """) { (st) throws(StoreError) in
            let rts = st.int64(2)
            oldest.append(.init(requestID: st.string(0), requester: st.string(1), requestedAt: Self.time(rts),
                                ageSeconds: Int((u - rts) / 1_000_000), priority: st.string(3), environment: st.text(4)))
        }
        let byAge = try buckets(Self.ageBuckets, source: "SELECT (?3 - rts) / 1000000 AS v, 1 AS n FROM report_pending")
        return .init(count: byAge.reduce(0) { $0 + $1.count }, byAge: byAge, oldest: oldest)
    }

    /// `stale_request` findings per environment, beside the environment's
    /// request count, median latency and usual approvers.
    func stale(medians: [String: Int?]) throws(StoreError) -> [ReportData.StaleGroup] {
        var groups: [String: ReportData.StaleGroup] = [:]
        // The environment of each stale request's earliest `request` event,
        // looked up for all of them in one pass (not once per finding).
        let ofStale = KeyIndexSchema.requestFilter("IN (SELECT request_id FROM s)", alias: "e", indexed: try conn.hasKeyIndex())
        try query("""
            WITH s AS (SELECT request_id, count(*) AS n FROM findings
                       WHERE rule = 'stale_request' AND ts >= ?2 AND ts < ?3 GROUP BY request_id),
                 r AS (SELECT e.request_id, min(e.ts), json_extract(e.raw, '$.environment') AS env FROM events e
                       WHERE \(ofStale) AND e.event = 'request' GROUP BY e.request_id)
            SELECT coalesce(r.env, '(none)') AS env, sum(s.n) FROM s LEFT JOIN r ON r.request_id = s.request_id GROUP BY 1
            """) { (st) throws(StoreError) in
            let env = st.string(0, "(none)")
            groups[env] = .init(environment: env, staleRequests: st.int(1), requests: 0, usualApprovers: [], p50: nil)
        }
        guard !groups.isEmpty else { return [] }
        // Requests per (environment, first decider), undecided ones under NULL: the
        // environment's request count is their sum, its usual approvers the top five.
        try query("""
            WITH a AS (SELECT env, approver, n FROM report_stale),
                 r AS (SELECT env, approver, sum(n) OVER (PARTITION BY env) AS requests,
                              row_number() OVER (PARTITION BY env ORDER BY approver IS NULL, n DESC, approver) AS k FROM a)
            SELECT env, approver, requests FROM r WHERE k <= 5 ORDER BY env, k
            """) { (st) throws(StoreError) in
            let env = st.string(0, "(none)")
            groups[env]?.requests = st.int(2)
            if let approver = st.text(1) { groups[env]?.usualApprovers.append(approver) }
        }
        for (env, p50) in medians { groups[env]?.p50 = p50 }
        return groups.values.sorted { ($0.staleRequests, $1.environment) > ($1.staleRequests, $0.environment) }
    }

    /// Approvals per approver and per requester–approver pair, with the reverse direction.
    func approverLoad() throws(StoreError) -> ReportData.ApproverLoad {
        // Approvals per (requester, approver) are in report_pairs; the approvers'
        // figures are sums over it.
        let total = try scalar("SELECT coalesce(sum(n), 0) FROM report_pairs")
        var approvers: [ReportData.ApproverCount] = []
        try query("""
            SELECT approver, sum(n) AS n, count(*) FROM report_pairs GROUP BY approver ORDER BY n DESC, approver LIMIT ?4
            """, [.int(30)]) { (st) throws(StoreError) in
            approvers.append(.init(approver: st.string(0), approvals: st.int(1),
                                   share: total > 0 ? Double(st.int(1)) / Double(total) : 0, requesters: st.int(2)))
        }
        var pairs: [ReportData.Pair] = []
        try query("""
            WITH pr AS (SELECT * FROM report_pairs),
                 rt AS (SELECT requester, sum(n) AS n FROM pr GROUP BY requester)
            SELECT pr.requester, pr.approver, pr.n, rt.n, coalesce(rv.n, 0)
            FROM pr JOIN rt USING (requester)
            LEFT JOIN pr rv ON rv.requester = pr.approver AND rv.approver = pr.requester
            ORDER BY pr.n DESC, pr.requester, pr.approver LIMIT ?4
            """, [.int(30)]) { (st) throws(StoreError) in
            let n = st.int(2), of = st.int(3), reverse = st.int(4)
            let share = of > 0 ? Double(n) / Double(of) : 0
            pairs.append(.init(requester: st.string(0), approver: st.string(1), approvals: n, share: share, reverse: reverse,
                               flagged: st.string(0) == st.string(1) || (n >= 2 && reverse >= 2) || (n >= 3 && share >= 0.5)))
        }
        return .init(approvers: approvers, totalApprovals: total, pairs: pairs)
    }
}
