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

/// One accepted approval event (schema v1).
///
/// A reference type so the engine's queues and tables share one copy. Fields
/// the detectors read on every event are decoded eagerly; free text (action,
/// resource, environment, justification, ticket, user agent) is decoded from
/// the kept raw line only when a rule or summary reads it. `details` and
/// unknown fields stay in the raw line, which the audit log keeps.
public final class Event: Sendable, Codable {
    public let ts: Timestamp
    public let kind: EventKind
    public let requestID: String
    /// The actor as written, trimmed.
    public let actor: String
    /// The actor's identity key: trimmed and lower-cased (SPEC §1).
    public let actorKey: String
    /// The original requester, trimmed, when the event names one.
    public let requester: String?
    public let priority: Priority?
    public let sourceIP: IPAddress?
    public let deviceID: String?
    public let expiresAt: Timestamp?
    public let outcome: Outcome?
    /// The line as received (without newline), valid UTF-8 JSON.
    public let raw: [UInt8]
    let lazy: LazyFields

    /// Byte spans of free-text fields inside `raw`, packed inline (no
    /// allocation per event): start and end offsets, and whether the text has
    /// escapes; all zero for an absent field (no string starts at offset 0).
    struct LazyFields: Sendable {
        private var spans = InlineArray<6, JSONScanner.StringSpan>(repeating: .init(start: 0, end: 0, hasEscapes: false))

        subscript(_ f: LazyField) -> JSONScanner.StringSpan? {
            get { spans[f.rawValue].start == 0 ? nil : spans[f.rawValue] }
            set { spans[f.rawValue] = newValue ?? .init(start: 0, end: 0, hasEscapes: false) }
        }
    }

    enum LazyField: Int, CaseIterable { case action, resource, environment, justification, ticket, userAgent }

    init(ts: Timestamp, kind: EventKind, requestID: String, actor: String, requester: String?, priority: Priority?,
         sourceIP: IPAddress?, deviceID: String?, expiresAt: Timestamp?, outcome: Outcome?, raw: [UInt8], lazy: LazyFields) {
        self.ts = ts
        self.kind = kind
        self.requestID = requestID
        self.actor = Identity.trim(actor)
        self.actorKey = Identity.key(actor)
        self.requester = requester.map(Identity.trim)
        self.priority = priority
        self.sourceIP = sourceIP
        self.deviceID = deviceID
        self.expiresAt = expiresAt
        self.outcome = outcome
        self.raw = raw
        self.lazy = lazy
    }

    private func text(_ f: LazyField) -> String? {
        guard let span = lazy[f] else { return nil }
        return raw.withUnsafeBufferPointer { JSONScanner(p: $0, maxDepth: 0).decode(span) }
    }

    public var action: String? { text(.action) }
    public var resource: String? { text(.resource) }
    public var environment: String? { text(.environment) }
    public var justification: String? { text(.justification) }
    public var ticket: String? { text(.ticket) }
    public var userAgent: String? { text(.userAgent) }

    /// The requester this event names: `requester`, or the actor on a `request`.
    public var namedRequester: String? {
        if let r = requester { return r }
        return kind == .request ? actor : nil
    }

    /// The raw line as text.
    public var line: String { String(decoding: raw, as: UTF8.self) }

    // Encoded as its raw line and decoded by re-parsing it: one source of truth.
    public convenience init(from decoder: any Decoder) throws {
        let line = try decoder.singleValueContainer().decode(String.self)
        switch LineDecoder(maxIdentifierBytes: Int.max).decode(line) {
        case .success(let e): self.init(copying: e)
        case .failure(let r): throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: r.message))
        }
    }

    convenience init(copying e: Event) {
        self.init(ts: e.ts, kind: e.kind, requestID: e.requestID, actor: e.actor, requester: e.requester, priority: e.priority,
                  sourceIP: e.sourceIP, deviceID: e.deviceID, expiresAt: e.expiresAt, outcome: e.outcome, raw: e.raw, lazy: e.lazy)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(line)
    }
}

/// Identity comparison rules: case-insensitive after trimming (SPEC §1).
public enum Identity {
    /// Trimmed spelling, kept for display.
    public static func trim(_ s: String) -> String {
        // Over contiguous UTF-8 (always so for a decoded field): the generic
        // `utf8.first`/`last` cost more than the rest of this together.
        var copy = s
        let needs = copy.withUTF8 { b in
            guard let f = b.first, let l = b.last else { return false }
            return isSpace(f) || isSpace(l)
        }
        guard needs else { return s }
        return String(s.trimmingWhitespace)
    }

    /// Comparison key: trimmed and lower-cased. Returns the input unchanged (no
    /// allocation) when it is already in key form, which is the common case.
    public static func key(_ s: String) -> String {
        // Fast path over contiguous UTF-8: already lower-case ASCII with no edge spaces.
        let clean = s.utf8.withContiguousStorageIfAvailable { b -> Bool in
            guard let f = b.first, let l = b.last, !isSpace(f), !isSpace(l) else { return false }
            for c in b where (c >= 65 && c <= 90) || c >= 0x80 { return false }
            return true
        }
        if clean == true { return s }
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
