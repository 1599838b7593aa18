import JITAuditCore

extension ReportQueries {
    static let lateEventsNote = "not recorded: the store keeps events in arrival order without marking those that came later than "
        + "the allowed lateness; replay and run count them in their summaries"
    /// Periods longer than this are checked for gaps over their last this-many hours only.
    static let maxGapHours: Int64 = 24 * 400

    func dataQuality() throws(StoreError) -> ReportData.DataQuality {
        var kinds: [ReportData.Compared] = []
        try query("""
            SELECT kind, count(CASE WHEN received_at >= ?2 THEN 1 END) AS c, count(CASE WHEN received_at < ?2 THEN 1 END) AS p
            FROM rejections WHERE received_at >= ?1 AND received_at < ?3 GROUP BY kind ORDER BY c DESC, p DESC, kind
            """) { (st) throws(StoreError) in kinds.append(.init(key: st.string(0), current: st.int(1), previous: st.int(2))) }
        let stored = try scalar("SELECT count(*) FROM rejections")
        let (hours, gaps) = try silentHours()
        return .init(rejectionsByKind: kinds, rejectionsInPeriod: kinds.reduce(0) { $0 + $1.current }, rejectionsStored: stored,
                     lateEvents: nil, lateEventsNote: Self.lateEventsNote,
                     businessHours: hours.count, silentBusinessHours: gaps.reduce(0) { $0 + $1.hours },
                     gaps: Array(gaps.prefix(50)))
    }

    /// Whole clock hours inside the period that start in business hours, and
    /// the runs of those with no event: one index probe per hour.
    func silentHours() throws(StoreError) -> (hours: [Int64], gaps: [ReportData.Gap]) {
        let hour: Int64 = 3_600_000_000
        var start = max(floorDiv(s + hour - 1, hour), floorDiv(u, hour) - Self.maxGapHours) * hour
        var hours: [Int64] = []
        while start + hour <= u {
            if request.calendar.isBusinessHours(Timestamp(micros: start)) { hours.append(start) }
            start += hour
        }
        guard !hours.isEmpty else { return ([], []) }
        var silent: [Int64] = []
        let list = "[" + hours.map(String.init).joined(separator: ",") + "]"
        try query("""
            SELECT h.value FROM json_each(?4) h
            WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.ts >= h.value AND e.ts < h.value + 3600000000)
            ORDER BY h.value
            """, [.text(list)]) { (st) throws(StoreError) in silent.append(st.int64(0)) }
        var gaps: [ReportData.Gap] = []
        var runStart: Int64?, runEnd: Int64 = 0, count = 0
        func close() {
            if let r = runStart { gaps.append(.init(start: Self.time(r), end: Self.time(runEnd), hours: count)) }
        }
        for h in silent {
            if runStart != nil && h == runEnd { runEnd += hour; count += 1; continue }
            close()
            runStart = h; runEnd = h + hour; count = 1
        }
        close()
        return (hours, gaps)
    }
}
