/// The report's per-request figures, summed in one pass over the request rows
/// of the two periods (a request as the period sees it: made in it, first
/// decision and closing events before its end) and handed to the report's SQL
/// as small temporary tables:
///
/// - `report_made (cur, made, decided, approved)`: requests per period;
/// - `report_lat`, `report_lat_pri`, `report_lat_appr (k, sec, n)`: decisions of
///   the current period per environment, priority and approver and whole second;
/// - `report_stale (env, approver, n)`: current requests per environment and first
///   decider (NULL when undecided);
/// - `report_pairs (requester, approver, n)`: current approvals per pair;
/// - `report_pending (request_id, requester, rts, priority, environment)`.
///
/// Hash tables instead of SQL GROUP BYs: grouping millions of rows in SQLite
/// sorts them once per grouping (seven sorts of about 2 s each for 3.4
/// million requests), while this is one pass.
struct RequestFigures {
    let since: Int64, until: Int64
    let names = TextInterner()
    let none: Int32, approve: Int32
    /// Index 0: previous period, 1: current.
    var made = [0, 0], decided = [0, 0], approved = [0, 0]
    /// Keys pack an interned id (high bits) and a second or a second id.
    var latEnv: [Int64: Int] = [:], latPriority: [Int64: Int] = [:], latApprover: [Int64: Int] = [:]
    var stale: [Int64: Int] = [:], pairs: [Int64: Int] = [:]
    var pending: [(requestID: String, requester: Int32, rts: Int64, priority: Int32, environment: Int32)] = []

    init(since: Int64, until: Int64) {
        self.since = since
        self.until = until
        none = names.id("(none)")
        approve = names.id("approve")
    }

    private static func pack(_ id: Int32, _ n: Int64) -> Int64 { Int64(id) << 40 | n }
    private static func pack(_ a: Int32, _ b: Int32) -> Int64 { Int64(a + 1) << 32 | Int64(b + 1) }

    /// Adds one request made in `[previous since, until)`. Ids are from ``names``
    /// (-1 for NULL); `dts` is its first decision when that counts for the period
    /// (at or after the request, before the end); `closed`: something closed it
    /// before the end. `requestID` is read only for a pending request.
    mutating func add(rts: Int64, requester: Int32, priority: Int32, environment: Int32, dts: Int64?, dkind: Int32,
                      approver: Int32, closed: Bool, requestID: () -> String) {
        let cur = rts >= since ? 1 : 0
        made[cur] += 1
        if dts != nil { decided[cur] += 1 }
        let approval = dts != nil && dkind == approve
        if approval { approved[cur] += 1 }
        guard cur == 1 else { return }
        let env = environment < 0 ? none : environment
        let decider = dts == nil ? -1 : approver
        stale[Self.pack(env, decider), default: 0] += 1
        if let dts {
            let sec = (dts - rts) / 1_000_000
            latEnv[Self.pack(env, sec), default: 0] += 1
            latPriority[Self.pack(priority, sec), default: 0] += 1
            latApprover[Self.pack(approver, sec), default: 0] += 1
        }
        if approval { pairs[Self.pack(requester, approver), default: 0] += 1 }
        if !closed { pending.append((requestID(), requester, rts, priority, environment)) }
    }

    /// Creates and fills the temporary tables.
    func store(_ q: ReportQueries) throws(StoreError) {
        let c = q.conn
        try c.exec("""
            CREATE TEMP TABLE report_made (cur INTEGER, made INTEGER, decided INTEGER, approved INTEGER);
            CREATE TEMP TABLE report_lat (k TEXT, sec INTEGER, n INTEGER);
            CREATE TEMP TABLE report_lat_pri (k TEXT, sec INTEGER, n INTEGER);
            CREATE TEMP TABLE report_lat_appr (k TEXT, sec INTEGER, n INTEGER);
            CREATE TEMP TABLE report_stale (env TEXT, approver TEXT, n INTEGER);
            CREATE TEMP TABLE report_pairs (requester TEXT, approver TEXT, n INTEGER);
            CREATE TEMP TABLE report_pending (request_id TEXT, requester TEXT, rts INTEGER, priority TEXT, environment TEXT);
            """, "preparing the report")
        let made = try c.prepare("INSERT INTO report_made VALUES (?1, ?2, ?3, ?4)")
        for cur in 0...1 {
            made.bind(1, cur); made.bind(2, self.made[cur]); made.bind(3, decided[cur]); made.bind(4, approved[cur])
            try made.run()
        }
        for (table, counts) in [("report_lat", latEnv), ("report_lat_pri", latPriority), ("report_lat_appr", latApprover)] {
            let s = try c.prepare("INSERT INTO \(table) VALUES (?1, ?2, ?3)")
            for (key, n) in counts {
                s.bind(1, names.name(Int32(key >> 40))); s.bind(2, key & (1 << 40 - 1)); s.bind(3, n)
                try s.run()
            }
        }
        for (table, counts) in [("report_stale", stale), ("report_pairs", pairs)] {
            let s = try c.prepare("INSERT INTO \(table) VALUES (?1, ?2, ?3)")
            for (key, n) in counts {
                s.bind(1, names.name(Int32(key >> 32) - 1)); s.bind(2, names.name(Int32(truncatingIfNeeded: key) - 1)); s.bind(3, n)
                try s.run()
            }
        }
        let p = try c.prepare("INSERT INTO report_pending VALUES (?1, ?2, ?3, ?4, ?5)")
        for r in pending {
            p.bind(1, r.requestID); p.bind(2, names.name(r.requester)); p.bind(3, r.rts); p.bind(4, names.name(r.priority))
            p.bind(5, names.name(r.environment))
            try p.run()
        }
    }
}
