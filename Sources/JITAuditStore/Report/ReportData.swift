import Foundation

/// The figures of one `jitaudit report`: what the Markdown, JSON and HTML
/// renderers show. Every list is already sorted and capped; times are RFC 3339
/// UTC strings, durations whole seconds. `docs/report.md` documents the JSON.
package struct ReportData: Codable, Sendable, Equatable {
    /// Bumped when a field changes meaning or is removed.
    package var schemaVersion = 1
    package var period: Period
    /// The period of the same length just before `period`, for comparisons.
    package var previousPeriod: Period
    /// Zone of business hours (for the gaps).
    package var timezone: String
    package var overview: Overview
    package var findings: FindingsSection
    package var violations: Violations
    package var bottlenecks: Bottlenecks
    package var approverLoad: ApproverLoad
    package var unknownSources: [UnknownSource]
    package var dataQuality: DataQuality

    package struct Period: Codable, Sendable, Equatable {
        /// Inclusive.
        package var since: String
        /// Exclusive.
        package var until: String
    }

    /// A figure in this period and in the previous one.
    package struct Compared: Codable, Sendable, Equatable {
        package var key: String
        package var current: Int
        package var previous: Int
    }

    package struct Overview: Codable, Sendable, Equatable {
        /// Audit-log events by type (`request`, `approve`, …), every type listed.
        package var events: [Compared]
        package var eventsTotal: Compared
        /// Requests made in the period.
        package var requests: Compared
        /// Requests made in the period with a decision (approve or reject) before its end.
        package var decidedRequests: Compared
        /// Requests whose first decision was `approve`.
        package var approvedRequests: Compared
        /// approved / decided, 0…1; nil when nothing was decided.
        package var approvalRate: Double?
        package var previousApprovalRate: Double?
        package var findingsTotal: Compared
        package var findingsByRule: [Compared]
        package var findingsBySeverity: [Compared]
    }

    package struct FindingsSection: Codable, Sendable, Equatable {
        package var byRule: [RuleCount]
        /// Actors with the most findings (at most 20).
        package var byActor: [ActorFindings]
        /// Width of a `perDay` bucket: 1 day, or 7 for periods over 92 days.
        package var bucketDays: Int
        /// Findings per bucket of UTC days and rule, empty buckets included.
        package var perDay: [DayCount]
        package var repeatOffenders: [RepeatOffender]
    }

    package struct RuleCount: Codable, Sendable, Equatable {
        package var rule: String
        package var severity: String
        package var count: Int
        /// Distinct actors named by this rule's findings.
        package var actors: Int
    }

    package struct ActorFindings: Codable, Sendable, Equatable {
        package var actor: String
        package var total: Int
        /// Rule id to count.
        package var byRule: [String: Int]
    }

    package struct DayCount: Codable, Sendable, Equatable {
        /// `YYYY-MM-DD` (UTC).
        package var day: String
        /// Rule id to count; rules without findings that day are absent.
        package var byRule: [String: Int]
        package var total: Int
    }

    package struct RepeatOffender: Codable, Sendable, Equatable {
        package var actor: String
        /// `repeat_offender` findings about this actor in the period.
        package var repeatFindings: Int
        /// This actor's other findings in the period (at most 20, oldest first).
        package var findings: [FindingRef]
        package var totalFindings: Int
    }

    package struct FindingRef: Codable, Sendable, Equatable {
        package var id: String
        package var rule: String
        package var severity: String
        package var ts: String
        package var requestID: String?
        package var summary: String
    }

    package struct Violations: Codable, Sendable, Equatable {
        /// `execute_without_approval` findings.
        package var executedWithoutApproval: [Violation]
        /// `self_approval` findings.
        package var selfApprovals: [Violation]
        /// `missing_justification` findings (approvals of high/critical requests without a real justification).
        package var unjustifiedHighPriority: [Violation]
        /// Totals (the lists are capped at 100 each).
        package var counts: [String: Int]
    }

    package struct Violation: Codable, Sendable, Equatable {
        package var findingID: String
        /// When the finding's event happened.
        package var ts: String
        package var requestID: String?
        /// Who acted: executor, or approver.
        package var actor: String
        package var requester: String?
        package var requestedAt: String?
        package var priority: String?
        package var environment: String?
        package var action: String?
        package var resource: String?
        package var summary: String
    }

    package struct Bottlenecks: Codable, Sendable, Equatable {
        package var latency: Latency
        package var pending: Pending
        package var stale: [StaleGroup]
    }

    /// Latency from a request to its first decision (approve or reject), for
    /// requests made in the period and decided before its end. Nearest-rank
    /// percentiles of whole seconds.
    package struct Latency: Codable, Sendable, Equatable {
        package var overall: LatencyStats
        package var byEnvironment: [LatencyStats]
        package var byPriority: [LatencyStats]
        /// By the approver who made the first decision (at most 20, most decisions first).
        package var byApprover: [LatencyStats]
        package var histogram: [Bucket]
    }

    package struct LatencyStats: Codable, Sendable, Equatable {
        /// The group (environment, priority, approver); `all` for the overall figures; `(none)` when absent.
        package var key: String
        package var decisions: Int
        package var p50: Int?
        package var p90: Int?
        package var p99: Int?
        package var max: Int?
    }

    package struct Bucket: Codable, Sendable, Equatable {
        package var label: String
        /// Inclusive lower bound, seconds.
        package var from: Int
        /// Exclusive upper bound, seconds; nil for the last bucket.
        package var to: Int?
        package var count: Int
    }

    /// Requests made in the period with no approve, reject, cancel or expire before its end.
    package struct Pending: Codable, Sendable, Equatable {
        package var count: Int
        package var byAge: [Bucket]
        /// The oldest (at most 50).
        package var oldest: [PendingRequest]
    }

    package struct PendingRequest: Codable, Sendable, Equatable {
        package var requestID: String
        package var requester: String
        package var requestedAt: String
        /// Seconds from the request to the end of the period.
        package var ageSeconds: Int
        package var priority: String
        package var environment: String?
    }

    /// Stale requests grouped by environment: the approver group of a request
    /// is the set of people who decide that environment's requests.
    package struct StaleGroup: Codable, Sendable, Equatable {
        package var environment: String
        /// `stale_request` findings in the period.
        package var staleRequests: Int
        /// Requests made in the period in this environment.
        package var requests: Int
        /// The approvers who decided most of this environment's requests (at most 5).
        package var usualApprovers: [String]
        /// Median latency of this environment's decided requests.
        package var p50: Int?
    }

    package struct ApproverLoad: Codable, Sendable, Equatable {
        /// Approvals (requests whose first decision was the approver's approve), most first (at most 30).
        package var approvers: [ApproverCount]
        package var totalApprovals: Int
        /// Requester–approver pairs, most approvals first (at most 30).
        package var pairs: [Pair]
    }

    package struct ApproverCount: Codable, Sendable, Equatable {
        package var approver: String
        package var approvals: Int
        /// Share of all approvals, 0…1.
        package var share: Double
        package var requesters: Int
    }

    package struct Pair: Codable, Sendable, Equatable {
        package var requester: String
        package var approver: String
        package var approvals: Int
        /// Share of the requester's approved requests that this approver approved, 0…1.
        package var share: Double
        /// Approvals the other way round (requester approving approver's requests).
        package var reverse: Int
        /// Highlighted: self-approval, both approve each other at least twice, or one approver covers ≥ 50 % of ≥ 3 approvals.
        package var flagged: Bool
    }

    /// New IPs and devices per actor, from `unknown_source` findings.
    package struct UnknownSource: Codable, Sendable, Equatable {
        package var actor: String
        package var findings: Int
        package var newAddresses: [String]
        package var newDevices: [String]
        package var first: String
        package var last: String
    }

    package struct DataQuality: Codable, Sendable, Equatable {
        /// Rejected lines received in the period (arrival time), by reason.
        package var rejectionsByKind: [Compared]
        package var rejectionsInPeriod: Int
        /// Every rejected line stored, whenever received.
        package var rejectionsStored: Int
        /// nil: the store does not record lateness; see `lateEventsNote`.
        package var lateEvents: Int?
        package var lateEventsNote: String
        /// Business hours in the period and how many had no event at all.
        package var businessHours: Int
        package var silentBusinessHours: Int
        /// Runs of consecutive silent business hours (at most 50, longest first by start).
        package var gaps: [Gap]
    }

    package struct Gap: Codable, Sendable, Equatable {
        package var start: String
        package var end: String
        package var hours: Int
    }
}

extension ReportData {
    /// The JSON document (`--format json`): snake_case keys, sorted, pretty-printed.
    package func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Reads a report back from its JSON document.
    package static func fromJSON(_ text: String) throws -> ReportData {
        let decoder = JSONDecoder()
        // snake_case to the Swift names; `_id` is `ID` (`finding_id` → `findingID`).
        decoder.keyDecodingStrategy = .custom { path in
            let key = path.last!
            guard key.intValue == nil else { return key }
            let parts = key.stringValue.split(separator: "_")
            var name = String(parts.first ?? "")
            for p in parts.dropFirst() { name += p == "id" ? "ID" : p.prefix(1).uppercased() + p.dropFirst() }
            return ReportKey(stringValue: name)
        }
        return try decoder.decode(ReportData.self, from: Data(text.utf8))
    }
}

private struct ReportKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
