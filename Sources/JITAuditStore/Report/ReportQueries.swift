import CSQLite
import Foundation
import JITAuditCore

/// What a report covers: event time `[since, until)` and the business calendar
/// whose hours the data-quality gaps are counted in.
package struct ReportRequest: Sendable {
    package var since: Timestamp
    package var until: Timestamp
    package var calendar: BusinessCalendar
    /// Lists (actors, pairs, approvers) are capped at this many rows.
    package var top = 20
    /// Periods holding more events than this, and more than a third of the
    /// log, read the covering `events_lifecycle` index whole (where the store
    /// has it) instead of the time index and a sort.
    package var wideScanThreshold = 200_000
    /// Reads the summary tables (schema 2) where the store has them; false
    /// groups the events themselves, as for an older store (tests compare both).
    package var useSummaries = true

    package init(since: Timestamp, until: Timestamp, calendar: BusinessCalendar) {
        self.since = since
        self.until = until
        self.calendar = calendar
    }

    /// The period of the same length just before this one.
    package var previousSince: Timestamp { since - (until - since) }
}

extension AuditStore {
    /// Computes every figure of the report: the per-request figures in one
    /// pass over the store's `requests` summary (schema 2; an older store's
    /// events are grouped by request instead), event counts from the hourly
    /// counts, the rest with aggregate SQL over the findings and rejected lines.
    package func report(_ request: ReportRequest) throws(StoreError) -> ReportData {
        guard request.since < request.until else {
            throw StoreError(.invalidState, "the report period is empty: --since must be before --until", path: path)
        }
        let q = ReportQueries(conn: conn, request: request)
        try q.begin()
        defer { q.end() }
        try q.buildLifecycle()
        let (events, requests) = try q.overviewCounts()
        let findings = try q.findingsSection()
        return ReportData(
            period: .init(since: request.since.rfc3339, until: request.until.rfc3339),
            previousPeriod: .init(since: request.previousSince.rfc3339, until: request.since.rfc3339),
            timezone: request.calendar.zone.identifier,
            overview: try q.overview(events: events, requests: requests),
            findings: findings,
            violations: try q.violations(),
            bottlenecks: try q.bottlenecks(),
            approverLoad: try q.approverLoad(),
            unknownSources: try q.unknownSources(),
            dataQuality: try q.dataQuality()
        )
    }
}

/// The report's SQL, on the store's connection. Per-request figures come
/// from ``RequestFigures``' temporary tables, filled from the `requests`
/// summary, or from two temporary tables grouped from the events (for the
/// summary's irregular rows, and for a store without summaries):
///
/// - `report_g`: one row per request id touched by an event in the current or
///   previous period, with event counts per type and period, the first
///   decision (time, kind, actor) and whether anything closed the request;
/// - `report_rq`: the rows of `report_g` whose `request` event is in those
///   periods, with the request's time, requester, priority and environment.
struct ReportQueries {
    let conn: Connection
    let request: ReportRequest
    var p: Int64 { request.previousSince.micros }
    var s: Int64 { request.since.micros }
    var u: Int64 { request.until.micros }

    /// `JITAUDIT_REPORT_TRACE=1` prints each statement's time on stderr.
    static let trace = ProcessInfo.processInfo.environment["JITAUDIT_REPORT_TRACE"] == "1"
    /// `JITAUDIT_REPORT_FROM_EVENTS=1` groups the events even where the store
    /// has summaries: the same figures, slower; a check of the summaries.
    static let fromEvents = ProcessInfo.processInfo.environment["JITAUDIT_REPORT_FROM_EVENTS"] == "1"

    static let eventTypes = ["request", "approve", "reject", "execute", "revoke", "cancel", "expire"]

    /// Temporary tables need writes to the temp schema: a reader connection is
    /// opened with `SQLITE_OPEN_READONLY`, so lifting `query_only` for the
    /// report cannot write to the database file itself. The report runs in one
    /// read transaction: every statement sees the same snapshot, so the summary
    /// tables and the events read beside them agree while a daemon writes.
    /// (The reader opened its temporary schema in memory: setting
    /// `temp_store` again here would drop the lookup views with it.)
    func begin() throws(StoreError) {
        try conn.exec("""
            PRAGMA query_only = OFF;
            \(Self.dropTables)
            BEGIN;
            """, "preparing the report")
    }

    static let tempTables = ["report_e", "report_counts", "report_g", "report_rq", "report_irregular", "report_tail", "report_ie", "report_made", "report_lat",
                             "report_lat_pri", "report_lat_appr", "report_stale", "report_pairs", "report_pending"]
    static var dropTables: String { tempTables.map { "DROP TABLE IF EXISTS temp.\($0);" }.joined(separator: "\n") }

    func end() {
        try? conn.exec(Self.dropTables)
        if conn.inTransaction { try? conn.exec("COMMIT") }
        if conn.isReadOnly { try? conn.exec("PRAGMA query_only = ON") }
    }

    /// Runs `sql` with `?1` = previous-period start, `?2` = since, `?3` = until
    /// and `extra` bound from `?4` on; calls `row` per result row.
    func query(_ sql: String, _ extra: [ReportValue] = [], _ row: (Statement) throws(StoreError) -> Void) throws(StoreError) {
        let started = Self.trace ? DispatchTime.now().uptimeNanoseconds : 0
        defer {
            if Self.trace {
                let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
                let head = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
                FileHandle.standardError.write(Data("report: \(String(format: "%8.1f", ms)) ms  \(head.prefix(110))\n".utf8))
            }
        }
        let st = try conn.prepare(sql)
        st.bind(1, p); st.bind(2, s); st.bind(3, u)
        for (i, v) in extra.enumerated() {
            switch v {
            case .int(let n): st.bind(Int32(i + 4), n)
            case .text(let t): st.bind(Int32(i + 4), t)
            }
        }
        while try st.step() { try row(st) }
    }

    func scalar(_ sql: String, _ extra: [ReportValue] = []) throws(StoreError) -> Int {
        var out = 0
        try query(sql, extra) { (st) throws(StoreError) in out = st.int(0) }
        return out
    }

    /// A table of that name in any schema of the connection: the log's, the
    /// attached index file's (schema 7), or a `TEMP` stand-in.
    func hasTable(_ name: String) throws(StoreError) -> Bool {
        try scalar("SELECT count(*) FROM pragma_table_list WHERE type = 'table' AND name = ?4", [.text(name)]) > 0
    }

    func hasIndex(_ name: String) throws(StoreError) -> Bool {
        try scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?4", [.text(name)]) > 0
    }

    /// `YYYY-MM-DDThh:mm:ss.sssZ` of a micros value.
    static func time(_ micros: Int64) -> String { Timestamp(micros: micros).rfc3339 }
}

enum ReportValue {
    case int(Int64)
    case text(String)
}

extension Statement {
    /// Column text, or `fallback` when NULL.
    func string(_ c: Int32, _ fallback: String = "") -> String { text(c) ?? fallback }
    func optionalInt(_ c: Int32) -> Int? { isNull(c) ? nil : int(c) }
}
