/// What happened in a JIT request's lifecycle (SPEC §1 `event`).
public enum EventKind: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case request, approve, reject, execute, revoke, cancel, expire

    public var description: String {
        switch self {
        case .request: "request"
        case .approve: "approve"
        case .reject: "reject"
        case .execute: "execute"
        case .revoke: "revoke"
        case .cancel: "cancel"
        case .expire: "expire"
        }
    }

    public init?(name: String) {
        guard let k = EventKind.allCases.first(where: { $0.description == name }) else { return nil }
        self = k
    }
}

/// Urgency of a request; absent means `normal`.
public enum Priority: UInt8, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case low, normal, high, critical
    public var description: String {
        switch self {
        case .low: "low"
        case .normal: "normal"
        case .high: "high"
        case .critical: "critical"
        }
    }
    public init?(name: String) {
        guard let k = Priority.allCases.first(where: { $0.description == name }) else { return nil }
        self = k
    }
    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
}

/// Result of an `execute`.
public enum Outcome: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case success, failure
    public var description: String { self == .success ? "success" : "failure" }
    public init?(name: String) {
        switch name {
        case "success": self = .success
        case "failure": self = .failure
        default: return nil
        }
    }
}

/// One accepted approval event (schema v1). Text fields hold the decoded JSON
/// strings; `details` and unknown fields are not materialised (they stay in the
/// raw line, which the audit log keeps).
public struct Event: Sendable, Codable, Hashable {
    public var ts: Timestamp
    public var kind: EventKind
    public var requestID: String
    /// The actor as written, trimmed.
    public var actor: String
    /// The actor's identity key: trimmed and lower-cased (SPEC §1).
    public var actorKey: String
    /// The original requester, trimmed, when the event names one.
    public var requester: String?
    public var action: String?
    public var resource: String?
    public var environment: String?
    public var priority: Priority?
    public var justification: String?
    public var ticket: String?
    public var sourceIP: IPAddress?
    public var deviceID: String?
    public var userAgent: String?
    public var expiresAt: Timestamp?
    public var outcome: Outcome?

    public init(ts: Timestamp, kind: EventKind, requestID: String, actor: String) {
        self.ts = ts
        self.kind = kind
        self.requestID = requestID
        self.actor = Identity.trim(actor)
        self.actorKey = Identity.key(actor)
    }

    /// The requester this event names: `requester`, or the actor on a `request`.
    public var namedRequester: String? {
        if let r = requester { return r }
        return kind == .request ? actor : nil
    }
}

/// Identity comparison rules: case-insensitive after trimming (SPEC §1).
public enum Identity {
    /// Trimmed spelling, kept for display.
    public static func trim(_ s: String) -> String {
        var needs = false
        if let f = s.utf8.first, isSpace(f) { needs = true }
        if let l = s.utf8.last, isSpace(l) { needs = true }
        guard needs else { return s }
        return String(s.trimmingWhitespace)
    }

    /// Comparison key: trimmed and lower-cased. Returns the input unchanged (no
    /// allocation) when it is already in key form, which is the common case.
    public static func key(_ s: String) -> String {
        var clean = true
        for (i, c) in s.utf8.enumerated() {
            if (c >= 65 && c <= 90) || c >= 0x80 || ((i == 0 || i == s.utf8.count - 1) && isSpace(c)) { clean = false; break }
        }
        if clean { return s }
        return String(s.trimmingWhitespace).lowercased()
    }

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
}

extension StringProtocol {
    /// The string without leading and trailing Unicode whitespace.
    public var trimmingWhitespace: SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start].isWhitespace { start = index(after: start) }
        while end > start, self[index(before: end)].isWhitespace { end = index(before: end) }
        return self[start..<end]
    }
}
