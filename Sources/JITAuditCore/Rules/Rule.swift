/// Where something was written: file, line and column (1-based).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) { self.file = file; self.line = line; self.column = column }
    public var description: String { "\(file):\(line):\(column)" }
}

/// One detection rule, as loaded from a rule file. Immutable and shared.
public final class Rule: Sendable {
    public let id: String
    public let severity: Severity
    public let description: String
    public let summary: SummaryTemplate
    public let kind: Kind
    /// After a finding, no other finding of this rule for the same key until `for` has passed.
    public let suppression: Suppression?
    public let location: SourceLocation?
    /// Hash of the rule's definition: a reload keeps a rule's state only when it is unchanged.
    public let fingerprint: String

    public init(id: String, severity: Severity, description: String, summary: SummaryTemplate, kind: Kind,
                suppression: Suppression?, location: SourceLocation?, fingerprint: String = "") {
        self.fingerprint = fingerprint
        self.id = id
        self.severity = severity
        self.description = description
        self.summary = summary
        self.kind = kind
        self.suppression = suppression
        self.location = location
    }

    public enum Kind: Sendable {
        /// Every event matching `when`.
        case match(when: Condition)
        /// `threshold` or more subjects matching `when` for one `groupBy` value within `window`.
        case threshold(Threshold)
        /// An event whose `values` were never seen before for its `groupBy` value.
        case firstSeen(FirstSeen)
        /// A `start` event not followed by an `expect` event for the same request within `within`.
        case absence(Absence)
        /// A `trigger` event whose request's latest decision before it is not `mustBe`.
        case sequence(Sequence)
    }

    public struct Threshold: Sendable {
        public enum Source: String, Sendable { case events, findings }
        public var source: Source
        public var when: Condition
        public var groupBy: FieldRef
        public var window: TimeSpan
        public var count: Int
        /// Re-arm only once fewer than `count` remain in the window: one finding per burst.
        public var rearm: Bool
    }

    public struct FirstSeen: Sendable {
        public var when: Condition
        public var learnFrom: Condition
        public var groupBy: FieldRef
        public var values: [FieldRef]
        public var learningPeriod: TimeSpan
        public var trustedNetworks: Bool
    }

    public struct Absence: Sendable {
        public var start: Condition
        public var expect: Set<EventKind>
        public var within: TimeSpan
    }

    public struct Sequence: Sendable {
        public var trigger: Condition
        /// The decisions that count; the latest one at or before the trigger decides.
        public var decisions: Set<EventKind>
        public var mustBe: EventKind
        /// Whether the approving decision's `expires_at` must not have passed.
        public var checkExpiry: Bool
    }

    public struct Suppression: Sendable {
        public var span: TimeSpan
        public var by: FieldRef
    }

    /// Whether this rule reads findings rather than events.
    var readsFindings: Bool {
        if case .threshold(let t) = kind, t.source == .findings { return true }
        return false
    }
}

/// A finding summary with `{placeholders}`: any field (`{actor}`,
/// `{request.action}`) and, per rule kind, `{count}`, `{window}`, `{new}`,
/// `{reason}`, `{within}`.
public struct SummaryTemplate: Sendable {
    enum Piece: Sendable {
        case text(String)
        case field(FieldRef)
        case variable(String)
    }
    let pieces: [Piece]
    public let source: String

    static let variables: Set<String> = ["count", "window", "new", "reason", "within", "rules", "group"]

    /// Parses a template; returns the unknown placeholder names on failure.
    public static func parse(_ s: String) -> Result<SummaryTemplate, UnknownPlaceholders> {
        var pieces: [Piece] = []
        var unknown: [String] = []
        var rest = Substring(s)
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { pieces.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            let name = String(rest[rest.index(after: open)..<close])
            if variables.contains(name) { pieces.append(.variable(name)) }
            else if let ref = FieldRef.parse(name) { pieces.append(.field(ref)) }
            else { unknown.append(name) }
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        if !unknown.isEmpty { return .failure(UnknownPlaceholders(names: unknown)) }
        return .success(SummaryTemplate(pieces: pieces, source: s))
    }

    public struct UnknownPlaceholders: Error { public var names: [String] }

    func render(_ s: Subject, _ vars: [String: String]) -> String {
        var out = ""
        for p in pieces {
            switch p {
            case .text(let t): out += t
            case .field(let ref): out += s.value(ref).text ?? "-"
            case .variable(let v): out += vars[v] ?? "-"
            }
        }
        return out
    }
}
