/// Why a line was not accepted. `kind` groups rejections in summaries and the
/// rejected-lines table; `message` tells a person what to fix.
public struct Rejection: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case notJSON = "not_json"
        case notObject = "not_object"
        case missingField = "missing_field"
        case wrongType = "wrong_type"
        case badValue = "bad_value"
        case invalidUTF8 = "invalid_utf8"
        case tooLong = "too_long"
        case tooDeep = "too_deep"
        case duplicateField = "duplicate_field"
        /// `run` only: stamped further ahead of the host's clock than `max_future_skew`.
        case futureTimestamp = "future_timestamp"
        /// `run` only: the socket connection timed out in the middle of the
        /// line (no newline within `partial_line_timeout`).
        case cutOff = "cut_off"
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
