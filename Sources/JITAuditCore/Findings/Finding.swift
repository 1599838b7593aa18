/// How bad a finding is; maps to syslog priorities in the sinks.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    var rank: Int { Severity.allCases.firstIndex(of: self)! }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// What a finding points at, beyond its own request.
public struct Evidence: Sendable, Codable, Hashable {
    /// Requests involved (the request itself, or every request of a burst).
    public var requestIDs: [String]
    /// Findings a finding is built on (`repeat_offender`).
    public var findingIDs: [String]?
    /// New values per field (`unknown_source`).
    public var newValues: [String: String]?

    public init(requestIDs: [String] = [], findingIDs: [String]? = nil, newValues: [String: String]? = nil) {
        self.requestIDs = requestIDs
        self.findingIDs = findingIDs
        self.newValues = newValues
    }
}

/// A rule's verdict about the event stream (SPEC §3).
public struct Finding: Sendable, Codable, Hashable {
    /// Stable id: the same input always gives the same id.
    public var id: String
    public var rule: String
    public var severity: Severity
    /// Event time of the triggering event (or the deadline), UTC.
    public var ts: Timestamp
    public var actor: String
    public var requestID: String?
    public var summary: String
    public var evidence: Evidence

    public init(id: String, rule: String, severity: Severity, ts: Timestamp, actor: String,
                requestID: String?, summary: String, evidence: Evidence) {
        self.id = id
        self.rule = rule
        self.severity = severity
        self.ts = ts
        self.actor = actor
        self.requestID = requestID
        self.summary = summary
        self.evidence = evidence
    }

    /// Derives a stable 64-bit id (16 hex digits) from what identifies a finding.
    public static func makeID(rule: String, actorKey: String, requestID: String?, ts: Timestamp, discriminator: String = "") -> String {
        var h = StableHash()
        h.add(rule); h.add(actorKey); h.add(requestID ?? ""); h.add(String(ts.micros)); h.add(discriminator)
        let v = h.value
        let hex = String(v, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// FNV-1a over fields separated by 0x1F, finished with a 64-bit mixer.
/// Stable across runs and platforms (unlike `Hasher`, which is seeded per process).
struct StableHash {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ s: String) {
        for b in s.utf8 { state = (state ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        state = (state ^ 0x1F) &* 0x0000_0100_0000_01B3
    }

    var value: UInt64 {
        var z = state &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
