extension ReportQueries {
    static let severities = ["critical", "high", "medium", "low", "info"]
    /// Rules whose findings are listed one by one as violations.
    static let violationRules = ["execute_without_approval", "self_approval", "missing_justification"]
    static let violationLimit = 100

    func overview(events: [ReportData.Compared],
                  requests: (ReportData.Compared, ReportData.Compared, ReportData.Compared)) throws(StoreError) -> ReportData.Overview {
        var byRule: [ReportData.Compared] = []
        try query("""
            SELECT rule, count(CASE WHEN ts >= ?2 THEN 1 END) AS c, count(CASE WHEN ts < ?2 THEN 1 END) AS p
            FROM findings WHERE ts >= ?1 AND ts < ?3 GROUP BY rule ORDER BY c DESC, p DESC, rule
            """) { (st) throws(StoreError) in byRule.append(.init(key: st.string(0), current: st.int(1), previous: st.int(2))) }
        var bySeverity: [String: ReportData.Compared] = [:]
        try query("""
            SELECT severity, count(CASE WHEN ts >= ?2 THEN 1 END), count(CASE WHEN ts < ?2 THEN 1 END)
            FROM findings WHERE ts >= ?1 AND ts < ?3 GROUP BY severity
            """) { (st) throws(StoreError) in bySeverity[st.string(0)] = .init(key: st.string(0), current: st.int(1), previous: st.int(2)) }
        let severities = Self.severities.map { bySeverity[$0] ?? .init(key: $0, current: 0, previous: 0) }
        let (req, decided, approved) = requests
        return .init(
            events: events,
            eventsTotal: .init(key: "events", current: events.reduce(0) { $0 + $1.current }, previous: events.reduce(0) { $0 + $1.previous }),
            requests: req, decidedRequests: decided, approvedRequests: approved,
            approvalRate: decided.current > 0 ? Double(approved.current) / Double(decided.current) : nil,
            previousApprovalRate: decided.previous > 0 ? Double(approved.previous) / Double(decided.previous) : nil,
            findingsTotal: .init(key: "findings", current: severities.reduce(0) { $0 + $1.current }, previous: severities.reduce(0) { $0 + $1.previous }),
            findingsByRule: byRule, findingsBySeverity: severities)
    }

    /// Days (or weeks, for periods over 92 days) per chart bar.
    var bucketDays: Int64 { (u - s) > 92 * 86_400_000_000 ? 7 : 1 }

    func findingsSection() throws(StoreError) -> ReportData.FindingsSection {
        var byRule: [ReportData.RuleCount] = []
        try query("""
            SELECT rule, max(severity), count(*) AS n, count(DISTINCT actor_key) FROM findings
            WHERE ts >= ?2 AND ts < ?3 GROUP BY rule ORDER BY n DESC, rule
            """) { (st) throws(StoreError) in
            byRule.append(.init(rule: st.string(0), severity: st.string(1), count: st.int(2), actors: st.int(3)))
        }
        var byActor: [ReportData.ActorFindings] = []
        var index: [String: Int] = [:]
        try query("""
            WITH a AS (SELECT actor_key, count(*) AS n FROM findings WHERE ts >= ?2 AND ts < ?3
                       GROUP BY actor_key ORDER BY n DESC, actor_key LIMIT ?4)
            SELECT a.actor_key, a.n, f.rule, count(*) FROM a JOIN findings f ON f.actor_key = a.actor_key
            WHERE f.ts >= ?2 AND f.ts < ?3 GROUP BY a.actor_key, f.rule ORDER BY a.n DESC, a.actor_key
            """, [.int(Int64(request.top))]) { (st) throws(StoreError) in
            let actor = st.string(0)
            if index[actor] == nil { index[actor] = byActor.count; byActor.append(.init(actor: actor, total: st.int(1), byRule: [:])) }
            byActor[index[actor]!].byRule[st.string(2)] = st.int(3)
        }
        return .init(byRule: byRule, byActor: byActor, bucketDays: Int(bucketDays), perDay: try perDay(),
                     repeatOffenders: try repeatOffenders())
    }

    /// Findings per bucket (days in the report's time zone, or weeks, from the
    /// period's first day) and rule; empty buckets included. Days follow the
    /// zone's clock, DST included, so a finding at 00:30 Berlin time counts on
    /// the Berlin day it happened, as an auditor there reads it.
    func perDay() throws(StoreError) -> [ReportData.DayCount] {
        let zone = request.calendar.zone
        func localDay(_ micros: Int64) -> Int64 { BusinessCalendar.local(Timestamp(micros: micros), in: zone).day }
        let first = localDay(s), width = bucketDays
        let n = Int((localDay(u - 1) - first) / width) + 1
        var days = (0..<n).map { i in
            let d = CivilDate.fromDays(first + Int64(i) * width)
            func pad(_ v: Int64, _ width: Int) -> String { String(repeating: "0", count: max(0, width - String(v).count)) + String(v) }
            let label = "\(pad(d.year, 4))-\(pad(d.month, 2))-\(pad(d.day, 2))"
            return ReportData.DayCount(day: label, byRule: [:], total: 0)
        }
        // Every finding of the period is read (findings are few next to
        // events) and bucketed here, where the zone's rules are.
        try query("""
            SELECT ts, rule FROM findings WHERE ts >= ?2 AND ts < ?3
            """) { (st) throws(StoreError) in
            let b = Int((localDay(st.int64(0)) - first) / width)
            guard days.indices.contains(b) else { return }
            days[b].byRule[st.string(1), default: 0] += 1
            days[b].total += 1
        }
        return days
    }

    /// Actors with `repeat_offender` findings in the period, with their other findings.
    func repeatOffenders() throws(StoreError) -> [ReportData.RepeatOffender] {
        var out: [ReportData.RepeatOffender] = []
        try query("""
            SELECT actor_key, count(*) AS n FROM findings WHERE rule = 'repeat_offender' AND ts >= ?2 AND ts < ?3
            GROUP BY actor_key ORDER BY n DESC, actor_key LIMIT 50
            """) { (st) throws(StoreError) in
            out.append(.init(actor: st.string(0), repeatFindings: st.int(1), findings: [], totalFindings: 0))
        }
        for i in out.indices {
            out[i].totalFindings = try scalar("""
                SELECT count(*) FROM findings WHERE actor_key = ?4 AND rule <> 'repeat_offender' AND ts >= ?2 AND ts < ?3
                """, [.text(out[i].actor)])
            try query("""
                SELECT id, rule, severity, ts, request_id, summary FROM findings
                WHERE actor_key = ?4 AND rule <> 'repeat_offender' AND ts >= ?2 AND ts < ?3 ORDER BY ts, id LIMIT 20
                """, [.text(out[i].actor)]) { (st) throws(StoreError) in
                out[i].findings.append(.init(id: st.string(0), rule: st.string(1), severity: st.string(2), ts: Self.time(st.int64(3)),
                                             requestID: st.text(4), summary: st.string(5)))
            }
        }
        return out
    }

    /// Findings of the violation rules, each with its request's people and times.
    func violations() throws(StoreError) -> ReportData.Violations {
        var lists: [String: [ReportData.Violation]] = [:]
        var counts: [String: Int] = [:]
        let ofFinding = KeyIndexSchema.requestFilter("= f.request_id", alias: "e", indexed: try conn.hasKeyIndex())
        for rule in Self.violationRules {
            counts[rule] = try scalar("SELECT count(*) FROM findings WHERE rule = ?4 AND ts >= ?2 AND ts < ?3", [.text(rule)])
            var list: [ReportData.Violation] = []
            try query("""
                SELECT f.id, f.ts, f.request_id, f.actor, f.summary, r.requester, r.ts, r.priority, json_extract(r.raw, '$.environment'),
                       json_extract(r.raw, '$.action'), json_extract(r.raw, '$.resource')
                FROM findings f
                LEFT JOIN events r ON r.seq = (SELECT e.seq FROM events e WHERE \(ofFinding) AND e.event = 'request'
                                               ORDER BY e.ts LIMIT 1)
                WHERE f.rule = ?4 AND f.ts >= ?2 AND f.ts < ?3 ORDER BY f.ts, f.id LIMIT ?5
                """, [.text(rule), .int(Int64(Self.violationLimit))]) { (st) throws(StoreError) in
                list.append(.init(findingID: st.string(0), ts: Self.time(st.int64(1)), requestID: st.text(2), actor: st.string(3),
                                  requester: st.text(5), requestedAt: st.isNull(6) ? nil : Self.time(st.int64(6)),
                                  priority: st.text(7), environment: st.text(8), action: st.text(9), resource: st.text(10),
                                  summary: st.string(4)))
            }
            lists[rule] = list
        }
        return .init(executedWithoutApproval: lists["execute_without_approval"] ?? [], selfApprovals: lists["self_approval"] ?? [],
                     unjustifiedHighPriority: lists["missing_justification"] ?? [], counts: counts)
    }

    /// New addresses and devices per actor from `unknown_source` evidence (`{"new": {"source_ip": …, "device_id": …}}`).
    func unknownSources() throws(StoreError) -> [ReportData.UnknownSource] {
        var out: [ReportData.UnknownSource] = []
        var index: [String: Int] = [:]
        try query("""
            SELECT actor_key, count(*) AS n, min(ts), max(ts) FROM findings WHERE rule = 'unknown_source' AND ts >= ?2 AND ts < ?3
            GROUP BY actor_key ORDER BY n DESC, actor_key LIMIT 100
            """) { (st) throws(StoreError) in
            index[st.string(0)] = out.count
            out.append(.init(actor: st.string(0), findings: st.int(1), newAddresses: [], newDevices: [],
                             first: Self.time(st.int64(2)), last: Self.time(st.int64(3))))
        }
        guard !out.isEmpty else { return [] }
        try query("""
            SELECT DISTINCT f.actor_key, j.key, j.value FROM findings f, json_each(f.evidence, '$.new') j
            WHERE f.rule = 'unknown_source' AND f.ts >= ?2 AND f.ts < ?3 ORDER BY 1, 2, 3
            """) { (st) throws(StoreError) in
            guard let i = index[st.string(0)], let value = st.text(2) else { return }
            if st.string(1) == "device_id" { out[i].newDevices.append(value) } else { out[i].newAddresses.append(value) }
        }
        return out
    }
}

func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }
