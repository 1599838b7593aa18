import JITAuditCore

/// What happened to the input lines of a run: counted, with the first rejections kept
/// verbatim (located) for the summary.
public struct IngestStats: Sendable {
    public var lines = 0
    public var accepted = 0
    public var bytes: Int64 = 0
    public var rejectedByKind: [Rejection.Kind: Int] = [:]
    public var firstRejections: [(LinePosition, Rejection)] = []
    public var keepRejections = 5

    public init() {}

    public var rejected: Int { rejectedByKind.values.reduce(0, +) }

    public mutating func reject(_ r: Rejection, at pos: LinePosition) {
        rejectedByKind[r.kind, default: 0] += 1
        if firstRejections.count < keepRejections { firstRejections.append((pos, r)) }
    }

    /// `source:line: message`, the located form used everywhere a rejection is shown.
    public static func locate(_ pos: LinePosition, _ r: Rejection) -> String {
        "\(pos.source):\(pos.line): \(r.message)"
    }
}

/// A rejected line as one JSON object: where it was and why.
public enum RejectionFormat {
    public static func json(_ r: Rejection, at pos: LinePosition) -> String {
        var out = "{\"source\":"
        JSONText.appendString(pos.source, to: &out)
        out += ",\"line\":\(pos.line),\"offset\":\(pos.offset),\"kind\":"
        JSONText.appendString(r.kind.rawValue, to: &out)
        out += ",\"reason\":"
        JSONText.appendString(r.message, to: &out)
        return out + "}"
    }
}
