import Foundation
import Testing
@testable import JITAuditStore

@Suite("Report figures")
struct ReportQueryTests {
    static func report(_ request: ReportRequest = ReportFixture.request()) throws -> ReportData {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try ReportFixture.make(db)
        return try store.report(request)
    }

    @Test func overviewComparesWithThePreviousPeriod() throws {
        let r = try Self.report()
        #expect(r.period == .init(since: "2026-03-02T00:00:00.000Z", until: "2026-03-09T00:00:00.000Z"))
        #expect(r.previousPeriod == .init(since: "2026-02-23T00:00:00.000Z", until: "2026-03-02T00:00:00.000Z"))
        let events = Dictionary(uniqueKeysWithValues: r.overview.events.map { ($0.key, [$0.current, $0.previous]) })
        #expect(events == ["request": [10, 1], "approve": [6, 1], "reject": [1, 0], "execute": [1, 0],
                           "revoke": [0, 0], "cancel": [1, 0], "expire": [0, 0]])
        #expect(r.overview.eventsTotal.current == 19 && r.overview.eventsTotal.previous == 2)
        #expect([r.overview.requests.current, r.overview.decidedRequests.current, r.overview.approvedRequests.current] == [10, 6, 5] as [Int])
        #expect([r.overview.requests.previous, r.overview.decidedRequests.previous, r.overview.approvedRequests.previous] == [1, 1, 1] as [Int])
        #expect(r.overview.approvalRate == 5.0 / 6.0)
        #expect(r.overview.previousApprovalRate == 1)
        #expect(r.overview.findingsTotal.current == 7 && r.overview.findingsTotal.previous == 1)
        let rules = Dictionary(uniqueKeysWithValues: r.overview.findingsByRule.map { ($0.key, [$0.current, $0.previous]) })
        #expect(rules == ["rubber_stamp": [2, 1], "missing_justification": [1, 0], "execute_without_approval": [1, 0],
                          "stale_request": [1, 0], "unknown_source": [1, 0], "repeat_offender": [1, 0]])
        #expect(r.overview.findingsBySeverity.map { [$0.current, $0.previous] } == [[1, 0], [3, 0], [3, 1], [0, 0], [0, 0]])
    }

    @Test func latencyPercentilesAreNearestRankOfWholeSeconds() throws {
        let l = try Self.report().bottlenecks.latency
        #expect(l.overall == .init(key: "all", decisions: 6, p50: 300, p90: 3600, p99: 3600, max: 3600))
        #expect(l.byEnvironment == [.init(key: "prod", decisions: 4, p50: 120, p90: 1200, p99: 1200, max: 1200),
                                    .init(key: "staging", decisions: 2, p50: 600, p90: 3600, p99: 3600, max: 3600)])
        #expect(l.byPriority.map(\.key) == ["critical", "high", "normal", "low"])
        #expect(l.byPriority[2] == .init(key: "normal", decisions: 3, p50: 300, p90: 3600, p99: 3600, max: 3600))
        #expect(l.byApprover == [.init(key: "bob", decisions: 3, p50: 300, p90: 1200, p99: 1200, max: 1200),
                                 .init(key: "alice", decisions: 2, p50: 120, p90: 600, p99: 600, max: 600),
                                 .init(key: "dave", decisions: 1, p50: 3600, p90: 3600, p99: 3600, max: 3600)])
        #expect(l.histogram.map(\.count) == [0, 2, 2, 1, 0, 1, 0, 0, 0, 0])
    }

    @Test func pendingRequestsAndTheirAgeAtThePeriodEnd() throws {
        let p = try Self.report().bottlenecks.pending
        #expect(p.count == 3)
        #expect(p.oldest.map(\.requestID) == ["R6", "R7", "R11"])
        #expect(p.oldest.map(\.ageSeconds) == [486_000, 7200, 3600])
        #expect(p.oldest[0].requester == "dave" && p.oldest[0].priority == "high" && p.oldest[0].environment == "prod")
        #expect(p.byAge.map(\.count) == [0, 2, 0, 0, 1, 0])
    }

    @Test func staleRequestsByEnvironment() throws {
        let s = try Self.report().bottlenecks.stale
        #expect(s == [.init(environment: "prod", staleRequests: 1, requests: 6, usualApprovers: ["bob", "alice"], p50: 120)])
    }

    @Test func approverLoadAndMutualPairs() throws {
        let a = try Self.report().approverLoad
        #expect(a.totalApprovals == 5)
        #expect(a.approvers == [.init(approver: "alice", approvals: 2, share: 0.4, requesters: 1),
                                .init(approver: "bob", approvals: 2, share: 0.4, requesters: 1),
                                .init(approver: "dave", approvals: 1, share: 0.2, requesters: 1)])
        #expect(a.pairs == [.init(requester: "alice", approver: "bob", approvals: 2, share: 1, reverse: 2, flagged: true),
                            .init(requester: "bob", approver: "alice", approvals: 2, share: 1, reverse: 2, flagged: true),
                            .init(requester: "carol", approver: "dave", approvals: 1, share: 1, reverse: 0, flagged: false)])
    }

    @Test func findingsByRuleActorDayAndRepeatOffenders() throws {
        let f = try Self.report().findings
        #expect(f.byRule.first == .init(rule: "rubber_stamp", severity: "medium", count: 2, actors: 1))
        #expect(f.byRule.map(\.count).reduce(0, +) == 7)
        #expect(f.byActor.map(\.actor) == ["bob", "alice", "dave"])
        #expect(f.byActor[0].byRule == ["missing_justification": 1, "rubber_stamp": 2, "unknown_source": 1, "repeat_offender": 1])
        #expect(f.bucketDays == 1)
        #expect(f.perDay.map(\.day) == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08"])
        #expect(f.perDay.map(\.total) == [4, 1, 1, 1, 0, 0, 0])
        #expect(f.perDay[0].byRule == ["missing_justification": 1, "rubber_stamp": 2, "execute_without_approval": 1])
        #expect(f.repeatOffenders.count == 1)
        #expect(f.repeatOffenders[0].actor == "bob" && f.repeatOffenders[0].totalFindings == 4)
        #expect(f.repeatOffenders[0].findings.map(\.rule).sorted() == ["missing_justification", "rubber_stamp", "rubber_stamp", "unknown_source"])
    }

    @Test func violationsCarryTheRequestsPeopleAndTimes() throws {
        let v = try Self.report().violations
        #expect(v.counts == ["execute_without_approval": 1, "self_approval": 0, "missing_justification": 1])
        #expect(v.selfApprovals.isEmpty)
        let e = try #require(v.executedWithoutApproval.first)
        #expect(e.requestID == "R2" && e.actor == "alice" && e.requester == "Alice")
        #expect(e.ts == "2026-03-02T10:30:00.000Z" && e.requestedAt == "2026-03-02T10:00:00.000Z")
        #expect(e.priority == "normal" && e.environment == "prod" && e.action == "deploy" && e.resource == "payments-api")
        let m = try #require(v.unjustifiedHighPriority.first)
        #expect(m.requestID == "R1" && m.actor == "bob" && m.priority == "high")
    }

    @Test func unknownSourcesFromEvidence() throws {
        let u = try Self.report().unknownSources
        #expect(u == [.init(actor: "bob", findings: 1, newAddresses: ["203.0.113.9"], newDevices: ["<script>alert(1)</script>"],
                            first: "2026-03-04T11:00:00.000Z", last: "2026-03-04T11:00:00.000Z")])
    }

    @Test func dataQualityRejectionsAndSilentBusinessHours() throws {
        let q = try Self.report().dataQuality
        #expect(q.rejectionsByKind == [.init(key: "not_json", current: 2, previous: 1), .init(key: "missing_field", current: 1, previous: 0)])
        #expect(q.rejectionsInPeriod == 3 && q.rejectionsStored == 4)
        #expect(q.lateEvents == nil && !q.lateEventsNote.isEmpty)
        #expect(q.businessHours == 50 && q.silentBusinessHours == 41)
        #expect(q.gaps.map(\.hours) == [1, 3, 1, 8, 1, 8, 2, 7, 10])
        #expect(q.gaps.first == .init(start: "2026-03-02T08:00:00.000Z", end: "2026-03-02T09:00:00.000Z", hours: 1))
        #expect(q.gaps.last == .init(start: "2026-03-06T08:00:00.000Z", end: "2026-03-06T18:00:00.000Z", hours: 10))
    }

    @Test func businessHoursFollowTheConfiguredZone() throws {
        var request = ReportFixture.request()
        request.calendar = BusinessCalendar(zone: ZoneOffsets(identifier: "Asia/Tokyo")!)
        let q = try Self.report(request).dataQuality
        // 08–18 JST is 23:00–09:00 UTC: the period holds Mon 09–18 JST (9 h), Tue–Fri (40 h) and
        // Mon 03-09 08–09 JST (1 h). Only R11 (03-08 23:00 UTC, 08:00 JST on Monday) falls inside.
        #expect(q.businessHours == 50)
        #expect(q.silentBusinessHours == 49)
    }

    /// Findings per day count on the report zone's days: at UTC+14 the
    /// period's 7 UTC days touch 8 local ones, and 10:05 UTC is the next day.
    @Test func findingsPerDayFollowTheConfiguredZone() throws {
        var request = ReportFixture.request()
        request.calendar = BusinessCalendar(zone: ZoneOffsets(identifier: "Pacific/Kiritimati")!)
        let f = try Self.report(request).findings
        #expect(f.perDay.map(\.day) == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"])
        #expect(f.perDay.map(\.total) == [2, 2, 1, 1, 1, 0, 0, 0])
        #expect(f.perDay[1].byRule == ["rubber_stamp": 1, "execute_without_approval": 1])
        // West of UTC the first findings' day is the day before.
        request.calendar = BusinessCalendar(zone: ZoneOffsets(identifier: "Pacific/Honolulu")!)
        let w = try Self.report(request).findings
        #expect(w.perDay.first?.day == "2026-03-01" && w.perDay.first?.total == 2)
    }

    @Test func anEmptyPeriodGivesAnEmptyReport() throws {
        let r = try Self.report(ReportFixture.request(since: ReportFixture.ts("2020-01-06T00:00:00Z"), until: ReportFixture.ts("2020-01-13T00:00:00Z")))
        #expect(r.overview.eventsTotal.current == 0 && r.overview.requests.current == 0 && r.overview.approvalRate == nil)
        #expect(r.findings.byRule.isEmpty && r.findings.byActor.isEmpty && r.findings.perDay.count == 7)
        #expect(r.bottlenecks.latency.overall.decisions == 0 && r.bottlenecks.latency.overall.p50 == nil)
        #expect(r.bottlenecks.pending.count == 0 && r.approverLoad.pairs.isEmpty && r.unknownSources.isEmpty)
        #expect(r.dataQuality.silentBusinessHours == 50)
        #expect(MarkdownReport.render(r).contains("No findings in this period."))
        #expect(HTMLReport.render(r).hasSuffix("</html>\n"))
    }

    @Test func aFreshDatabaseGivesAnEmptyReport() throws {
        let db = try TempDB(); defer { db.cleanup() }
        _ = try db.open()
        let r = try db.open(.read).report(ReportFixture.request())
        #expect(r.overview.eventsTotal.current == 0 && r.dataQuality.rejectionsStored == 0)
    }

    @Test func theReaderStaysReadOnlyAfterAReport() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try ReportFixture.make(db)
        _ = try store.report(ReportFixture.request())
        _ = try store.report(ReportFixture.request())  // temporary tables are dropped between reports
        #expect(try store.conn.scalarInt("PRAGMA query_only") == 1)
        // What the reader had before the reports, the lookup views (IndexFile), and nothing else.
        #expect(try store.conn.scalarInt("SELECT count(*) FROM temp.sqlite_schema WHERE name NOT IN ('events_of_request', 'events_of_actor')") == 0)
        #expect(try store.conn.hasKeyIndex())
    }

    @Test func theCoveringLifecycleIndexGivesTheSameFigures() throws {
        let db = try TempDB(); defer { db.cleanup() }
        _ = try ReportFixture.make(db)
        let plain = try db.open(.read).report(ReportFixture.request())
        // The proposed migration: a generated environment column and a covering lifecycle index.
        try db.sql("""
            ALTER TABLE events ADD COLUMN environment TEXT GENERATED ALWAYS AS (json_extract(raw, '$.environment')) VIRTUAL;
            CREATE INDEX events_lifecycle ON events (request_id, ts, event, actor_key, requester, priority, environment);
            """)
        var request = ReportFixture.request()
        request.wideScanThreshold = 0
        #expect(try db.open(.read).report(request) == plain)
    }

    @Test func jsonRoundTripsWithSnakeCaseKeys() throws {
        let r = try Self.report()
        let json = r.jsonText()
        #expect(json.contains("\"approval_rate\""))
        #expect(json.contains("\"new_addresses\""))
        #expect(json.contains("\"request_id\" : \"R2\""))
        #expect(json.contains("\"missing_justification\" : 1"))
        #expect(try ReportData.fromJSON(json) == r)
    }
}
