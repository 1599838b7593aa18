import Foundation
import Testing
@testable import JITAuditStore

/// A store whose report figures are known by hand; see the comments for the
/// arithmetic. The period is Mon 2026-03-02 00:00 to Mon 2026-03-09 00:00 UTC;
/// the previous period is the week before.
enum ReportFixture {
    static let since = ts("2026-03-02T00:00:00Z")
    static let until = ts("2026-03-09T00:00:00Z")

    static func ts(_ s: String) -> Timestamp { RFC3339.parse(s)! }

    static func request(since: Timestamp = since, until: Timestamp = until) -> ReportRequest {
        ReportRequest(since: since, until: until, calendar: BusinessCalendar(zone: ZoneOffsets(identifier: "UTC")!))
    }

    /// (time, event, request, actor, fields)
    static let events: [(String, String, String, String, KeyValuePairs<String, String>)] = [
        // Previous period: one request approved after 120 s.
        ("2026-02-25T10:00:00Z", "request", "R9", "alice", ["environment": "prod", "priority": "normal"]),
        ("2026-02-25T10:02:00Z", "approve", "R9", "bob", [:]),
        // Current period. Latencies to first decision: R1 60, R10 120, R2 300, R3 600, R4 1200, R5 3600.
        ("2026-03-02T09:00:00Z", "request", "R1", "alice", ["environment": "prod", "priority": "high", "justification": "hotfix INC-1"]),
        ("2026-03-02T09:01:00Z", "approve", "R1", "bob", [:]),
        ("2026-03-02T09:05:00Z", "execute", "R1", "alice", ["outcome": "success"]),
        ("2026-03-02T10:00:00Z", "request", "R2", "Alice", ["environment": "prod", "action": "deploy", "resource": "payments-api"]),
        ("2026-03-02T10:05:00Z", "approve", "R2", "bob", [:]),
        ("2026-03-02T11:00:00Z", "request", "R3", "bob", ["environment": "staging", "priority": "low"]),
        ("2026-03-02T11:10:00Z", "approve", "R3", "alice", [:]),
        ("2026-03-02T12:00:00Z", "request", "R4", "carol", ["environment": "prod", "priority": "critical"]),
        ("2026-03-02T12:20:00Z", "reject", "R4", "bob", [:]),
        ("2026-03-02T13:00:00Z", "request", "R5", "carol", ["environment": "staging"]),
        ("2026-03-02T14:00:00Z", "approve", "R5", "dave", [:]),
        ("2026-03-02T14:30:00Z", "approve", "R5", "erin", [:]),  // a second approval: not the first decision
        // Pending at the end: R6 (age 5d 15h = 486000 s), R7 (7200 s), R11 (3600 s; approved after the end).
        ("2026-03-03T09:00:00Z", "request", "R6", "dave", ["environment": "prod", "priority": "high"]),
        ("2026-03-04T09:00:00Z", "request", "R8", "erin", ["environment": "prod"]),
        ("2026-03-04T09:30:00Z", "cancel", "R8", "erin", [:]),
        ("2026-03-05T10:00:00Z", "request", "R10", "bob", ["environment": "prod"]),
        ("2026-03-05T10:02:00Z", "approve", "R10", "alice", [:]),
        ("2026-03-08T22:00:00Z", "request", "R7", "dave", ["environment": "dev"]),
        ("2026-03-08T23:00:00Z", "request", "R11", "erin", ["environment": "staging"]),
        ("2026-03-09T01:00:00Z", "approve", "R11", "alice", [:]),
    ]

    /// (rule, severity, time, actor, request, evidence new values)
    static let findings: [(String, Severity, String, String, String?, [String: String]?)] = [
        ("rubber_stamp", .medium, "2026-02-25T10:02:00Z", "bob", "R9", nil),
        ("missing_justification", .high, "2026-03-02T09:01:00Z", "bob", "R1", nil),
        ("rubber_stamp", .medium, "2026-03-02T09:01:00Z", "bob", "R1", nil),
        ("rubber_stamp", .medium, "2026-03-02T10:05:00Z", "bob", "R2", nil),
        ("execute_without_approval", .critical, "2026-03-02T10:30:00Z", "alice", "R2", nil),
        ("stale_request", .medium, "2026-03-03T13:00:00Z", "dave", "R6", nil),
        ("unknown_source", .high, "2026-03-04T11:00:00Z", "bob", "R8", ["source_ip": "203.0.113.9", "device_id": "<script>alert(1)</script>"]),
        ("repeat_offender", .high, "2026-03-05T10:00:00Z", "bob", nil, nil),
    ]

    /// Creates the fixture in `db` and returns it opened for reading.
    static func make(_ db: TempDB) throws -> AuditStore {
        let store = try db.open()
        for (i, e) in events.enumerated() {
            let line = eventLine(e.0, e.1, e.2, e.3, e.4)
            try store.append(try event(line), source: "/fixture.jsonl", line: i + 1, offset: Int64(i * 200), receivedAt: ts(e.0))
        }
        for f in findings {
            let t = ts(f.2)
            let finding = Finding(id: Finding.makeID(rule: f.0, actorKey: f.3, requestID: f.4, ts: t), rule: f.0, severity: f.1, ts: t,
                                  actor: f.3, requestID: f.4, summary: "\(f.0) by \(f.3)",
                                  evidence: Evidence(requestIDs: f.4.map { [$0] } ?? [], newValues: f.5))
            try store.record(finding, recordedAt: t)
        }
        // Rejected lines: two not_json and one missing_field in the period, one not_json the week before.
        for (kind, at) in [(Rejection.Kind.notJSON, "2026-03-03T10:00:00Z"), (.notJSON, "2026-03-03T11:00:00Z"),
                           (.missingField, "2026-03-04T10:00:00Z"), (.notJSON, "2026-02-26T10:00:00Z")] {
            let bytes = Array("not an event".utf8)
            try bytes.withUnsafeBytes { raw in
                try store.reject(Rejection(kind, "bad line"), raw: raw, source: "/fixture.jsonl", line: 99, offset: 9_900, receivedAt: ts(at))
            }
        }
        try store.commit(at: ts("2026-03-09T00:00:00Z"))
        return try db.open(.read)
    }
}
