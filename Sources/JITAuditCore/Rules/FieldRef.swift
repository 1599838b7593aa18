/// A field a rule reads: of the event itself, of the request it belongs to
/// (`request.<field>`), or of a finding (for rules over findings).
public enum FieldRef: Hashable, Sendable, CustomStringConvertible {
    case event(EventField)
    /// The request event's field for this `request_id`, falling back to the
    /// current event's own field when the request has not been seen.
    case request(EventField)
    /// Time since the request event (absent when it has not been seen).
    case requestAge
    /// The rule id of a finding (rules with `source: findings`).
    case findingRule
    /// The severity of a finding (rules with `source: findings`).
    case findingSeverity

    public static func parse(_ name: String) -> FieldRef? {
        switch name {
        case "request.age": return .requestAge
        case "rule": return .findingRule
        case "severity": return .findingSeverity
        default: break
        }
        if name.hasPrefix("request."), let f = EventField(rawValue: String(name.dropFirst(8))) { return .request(f) }
        if let f = EventField(rawValue: name) { return .event(f) }
        return nil
    }

    public var description: String {
        switch self {
        case .event(let f): f.rawValue
        case .request(let f): "request." + f.rawValue
        case .requestAge: "request.age"
        case .findingRule: "rule"
        case .findingSeverity: "severity"
        }
    }

    /// Whether the value is an identity (compared case-insensitively after trimming).
    var isIdentity: Bool {
        switch self {
        case .event(let f), .request(let f): f == .actor || f == .requester
        default: false
        }
    }

    var needsRequestContext: Bool {
        switch self {
        case .request, .requestAge: true
        case .event(let f): f == .requester
        default: false
        }
    }

    static let allNames: [String] = EventField.allCases.map(\.rawValue) + EventField.allCases.map { "request." + $0.rawValue } + ["request.age"]
}

/// Schema fields rules can read.
public enum EventField: String, CaseIterable, Sendable {
    case event, request_id, actor, requester, action, resource, environment, priority
    case justification, ticket, source_ip, device_id, user_agent, outcome, expires_at
}

/// A value read from an event or finding.
public enum FieldValue: Equatable, Sendable {
    case absent
    case text(String)
    case ip(IPAddress)
    case time(Timestamp)
    case span(TimeSpan)

    /// Text form, for group keys, comparisons with strings and summaries.
    public var text: String? {
        switch self {
        case .absent: nil
        case .text(let s): s
        case .ip(let a): a.description
        case .time(let t): t.rfc3339
        case .span(let d): d.description
        }
    }
}
