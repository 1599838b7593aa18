/// A boolean test over an event (with its request) or a finding.
public indirect enum Condition: Sendable {
    case always
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case field(FieldRef, Predicate)
    case time(TimeCondition)
    /// The event's kind is one of these (bit per `EventKind.rawValue`): what
    /// `event: [approve, reject]` loads as, tested without reading text.
    case kinds(UInt8)

    /// `event` one of `names` (already validated as event kinds).
    static func kinds(_ names: [String]) -> Condition {
        .kinds(names.compactMap { EventKind(name: $0) }.reduce(UInt8(0)) { $0 | (1 << $1.rawValue) })
    }

    /// Whether evaluating it reads the request's context.
    var needsRequestContext: Bool {
        switch self {
        case .always, .time, .kinds: false
        case .all(let cs), .any(let cs): cs.contains { $0.needsRequestContext }
        case .not(let c): c.needsRequestContext
        case .field(let ref, let p): ref.needsRequestContext || p.needsRequestContext
        }
    }

    func evaluate(_ s: Subject, _ cal: CalendarBook) -> Bool {
        switch self {
        case .always: return true
        case .all(let cs):
            for c in cs where !c.evaluate(s, cal) { return false }
            return true
        case .any(let cs):
            for c in cs where c.evaluate(s, cal) { return true }
            return false
        case .not(let c): return !c.evaluate(s, cal)
        case .field(let ref, let p): return p.test(s.value(ref), ref: ref, s)
        case .time(let t): return cal.matches(t, s.ts)
        case .kinds(let mask):
            // A finding has no event kind: the same as `event` reading absent.
            guard let e = s.event else { return false }
            return mask & (1 << e.kind.rawValue) != 0
        }
    }

    /// Event kinds this condition can possibly match, when it pins `event`; nil if any.
    var eventKinds: Set<EventKind>? {
        switch self {
        case .field(.event(.event), .oneOf(let vs, _)): return Set(vs.compactMap { EventKind(name: $0) })
        case .kinds(let mask): return Set(EventKind.allCases.filter { mask & (1 << $0.rawValue) != 0 })
        case .all(let cs):
            var result: Set<EventKind>?
            for c in cs { if let k = c.eventKinds { result = result.map { $0.intersection(k) } ?? k } }
            return result
        default: return nil
        }
    }
}

/// A test on one field's value.
public enum Predicate: Sendable {
    /// Equal to one of the values (identities compare case-insensitively; `ignoreCase`
    /// also trims and folds case for other text).
    case oneOf([String], ignoreCase: Bool)
    case noneOf([String], ignoreCase: Bool)
    case sameAs(FieldRef)
    case differentFrom(FieldRef)
    case exists(Bool)
    /// Absent, empty or whitespace only.
    case blank(Bool)
    /// Fewer characters (as a reader sees them, after trimming) than n; absent counts as 0.
    case shorterThan(Int)
    case longerThan(Int)
    /// Shell-style wildcards (`*`, `?`), matched in linear time.
    case glob([GlobPattern], ignoreCase: Bool)
    case inNetworks([CIDR])
    case lessThan(TimeSpan)
    case atLeast(TimeSpan)

    var needsRequestContext: Bool {
        switch self {
        case .sameAs(let r), .differentFrom(let r): r.needsRequestContext
        default: false
        }
    }

    func test(_ v: FieldValue, ref: FieldRef, _ s: Subject) -> Bool {
        switch self {
        case .oneOf(let values, let ic): return Predicate.contains(values, v, identity: ref.isIdentity, ignoreCase: ic)
        case .noneOf(let values, let ic):
            if case .absent = v { return true }
            return !Predicate.contains(values, v, identity: ref.isIdentity, ignoreCase: ic)
        case .sameAs(let other), .differentFrom(let other):
            let w = s.value(other)
            guard let a = v.text, let b = w.text else {
                if case .differentFrom = self { return true }
                return false
            }
            let equal: Bool
            if ref.isIdentity || other.isIdentity { equal = Identity.key(a) == Identity.key(b) } else { equal = a == b }
            if case .sameAs = self { return equal }
            return !equal
        case .exists(let want):
            if case .absent = v { return !want }
            return want
        case .blank(let want):
            let isBlank = v.text.map { $0.trimmingWhitespace.isEmpty } ?? true
            return isBlank == want
        case .shorterThan(let n):
            return Predicate.characters(v.text, upTo: n) < n
        case .longerThan(let n):
            return Predicate.characters(v.text, upTo: n + 1) > n
        case .glob(let patterns, let ic):
            guard var t = v.text else { return false }
            if ic { t = t.lowercased() }
            return patterns.contains { $0.matches(t) }
        case .inNetworks(let nets):
            guard case .ip(let a) = v else { return false }
            return nets.contains { $0.contains(a) }
        case .lessThan(let d):
            guard case .span(let x) = v else { return false }
            return x < d
        case .atLeast(let d):
            guard case .span(let x) = v else { return false }
            return x >= d
        }
    }

    /// Characters of the trimmed text, counted no further than `limit`
    /// (grapheme breaking is costly, and justifications can be long).
    static func characters(_ text: String?, upTo limit: Int) -> Int {
        guard let text else { return 0 }
        let trimmed = text.trimmingWhitespace
        // Every character takes at least one byte.
        if trimmed.utf8.count < limit { return trimmed.count }
        var n = 0
        for _ in trimmed {
            n += 1
            if n >= limit { break }
        }
        return n
    }

    static func contains(_ values: [String], _ v: FieldValue, identity: Bool, ignoreCase: Bool) -> Bool {
        guard let t = v.text else { return false }
        if identity { let k = Identity.key(t); return values.contains(k) }
        if ignoreCase {
            // Lower-casing shrinks text at most threefold in UTF-8 (the Kelvin
            // sign, 3 bytes, becomes "k"), so text over three times the longest
            // value cannot match: skip folding it (long free text is the common case).
            var longest = 0
            for v in values { longest = max(longest, v.utf8.count) }
            let trimmed = t.trimmingWhitespace
            if trimmed.utf8.count > 3 * longest { return false }
            let k = String(trimmed).lowercased()
            return values.contains(k)
        }
        return values.contains(t)
    }
}

/// A shell-style wildcard pattern. Matching is iterative with one backtrack
/// point, so it runs in O(n·m) at worst and cannot be driven into exponential time.
public struct GlobPattern: Sendable, Hashable {
    let pattern: [Unicode.Scalar]
    public init(_ text: String) { pattern = Array(text.unicodeScalars) }

    public func matches(_ s: String) -> Bool {
        let t = Array(s.unicodeScalars)
        var pi = 0, ti = 0
        var star = -1, mark = 0
        while ti < t.count {
            if pi < pattern.count, pattern[pi] == "?" || pattern[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < pattern.count, pattern[pi] == "*" {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < pattern.count, pattern[pi] == "*" { pi += 1 }
        return pi == pattern.count
    }
}

/// What a condition looks at: an event with its request, or a finding.
///
/// Three references wide: the finding is boxed so that building and passing a
/// subject per rule and event copies no strings (most subjects are events).
struct Subject {
    var event: Event?
    var request: Event?
    private var findingBox: FindingBox?

    private final class FindingBox: Sendable {
        let finding: Finding
        init(_ f: Finding) { finding = f }
    }

    init(event: Event, request: Event?) { self.event = event; self.request = request }
    init(finding: Finding) { self.findingBox = FindingBox(finding) }

    var finding: Finding? { findingBox?.finding }

    var ts: Timestamp { event?.ts ?? finding!.ts }

    /// A value as a group key: its text, and the text compared (identities
    /// trimmed and lower-cased). An event's own actor uses the key it carries.
    func groupKey(_ ref: FieldRef) -> (display: String, key: String)? {
        if findingBox == nil, let e = event, case .event(.actor) = ref { return (e.actor, e.actorKey) }
        guard let display = value(ref).text else { return nil }
        return (display, ref.isIdentity ? Identity.key(display) : display)
    }

    func value(_ ref: FieldRef) -> FieldValue {
        if let f = findingBox?.finding {
            switch ref {
            case .findingRule: return .text(f.rule)
            case .findingSeverity: return .text(f.severity.rawValue)
            case .event(.actor), .request(.actor): return .text(f.actor)
            case .event(.request_id), .request(.request_id): return f.requestID.map { .text($0) } ?? .absent
            default: return .absent
            }
        }
        let e = event!
        switch ref {
        case .event(let field):
            if field == .requester {
                if let r = e.requester { return .text(r) }
                if e.kind == .request { return .text(e.actor) }
                return request?.namedRequester.map { .text($0) } ?? .absent
            }
            return Subject.read(field, of: e, defaultPriority: true)
        case .request(let field):
            if let r = request {
                if field == .requester, let n = r.namedRequester { return .text(n) }
                let v = Subject.read(field, of: r, defaultPriority: false)
                if v != .absent { return v }
            }
            if field == .requester { return e.namedRequester.map { .text($0) } ?? .absent }
            return Subject.read(field, of: e, defaultPriority: true)
        case .requestAge:
            guard let r = request else { return .absent }
            return .span(e.ts - r.ts)
        case .findingRule, .findingSeverity:
            return .absent
        }
    }

    static func read(_ field: EventField, of e: Event, defaultPriority: Bool) -> FieldValue {
        func opt(_ s: String?) -> FieldValue { s.map { .text($0) } ?? .absent }
        switch field {
        case .event: return .text(e.kind.description)
        case .request_id: return .text(e.requestID)
        case .actor: return .text(e.actor)
        case .requester: return opt(e.namedRequester)
        case .action: return opt(e.action)
        case .resource: return opt(e.resource)
        case .environment: return opt(e.environment)
        case .priority:
            if let p = e.priority { return .text(p.description) }
            return defaultPriority ? .text("normal") : .absent
        case .justification: return opt(e.justification)
        case .ticket: return opt(e.ticket)
        case .source_ip: return e.sourceIP.map { .ip($0) } ?? .absent
        case .device_id: return opt(e.deviceID)
        case .user_agent: return opt(e.userAgent)
        case .outcome: return opt(e.outcome?.description)
        case .expires_at: return e.expiresAt.map { .time($0) } ?? .absent
        }
    }
}
