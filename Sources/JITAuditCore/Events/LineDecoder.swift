/// Decodes one JSON line of schema v1 into an ``Event`` or a ``Rejection``.
///
/// A hand-written byte scanner: Foundation's JSON decoders are an order of
/// magnitude slower on this hot path (see `scripts/bench`). It validates the
/// whole line (JSON grammar, UTF-8, nesting depth) but builds `String`s only for
/// schema fields; `details` and unknown fields are checked and skipped.
public struct LineDecoder: Sendable {
    /// Deepest nesting accepted in `details` or unknown fields.
    public var maxDepth: Int
    /// Longest accepted identifier (`request_id`, `actor`) in bytes.
    public var maxIdentifierBytes: Int

    /// The field order of the last line ``decodeNext(_:)`` decoded.
    private var keyOrder = KeyOrder()

    public init(maxDepth: Int = 64, maxIdentifierBytes: Int = 256) {
        self.maxDepth = maxDepth
        self.maxIdentifierBytes = maxIdentifierBytes
    }

    public func decode(_ bytes: [UInt8]) -> Result<Event, Rejection> {
        bytes.withUnsafeBufferPointer { decode($0) }
    }

    public func decode(_ line: String) -> Result<Event, Rejection> {
        var s = line
        return s.withUTF8 { decode($0) }
    }

    /// Decodes a line without its terminating `\n`; a trailing `\r` is ignored.
    public func decode(_ raw: UnsafeBufferPointer<UInt8>) -> Result<Event, Rejection> {
        var order = KeyOrder()
        return Self.decode(raw, order: &order, maxDepth: maxDepth, maxIdentifierBytes: maxIdentifierBytes)
    }

    /// As ``decode(_:)-(UnsafeBufferPointer<UInt8>)``, for the lines of one
    /// stream in turn: each line's keys are first matched against the
    /// previous line's field order (the same result, found with less work
    /// when a producer keeps its order; see ``JSONScanner/scanObject(order:)``).
    public mutating func decodeNext(_ raw: UnsafeBufferPointer<UInt8>) -> Result<Event, Rejection> {
        Self.decode(raw, order: &keyOrder, maxDepth: maxDepth, maxIdentifierBytes: maxIdentifierBytes)
    }

    public mutating func decodeNext(_ bytes: [UInt8]) -> Result<Event, Rejection> {
        bytes.withUnsafeBufferPointer { decodeNext($0) }
    }

    private static func decode(_ raw: UnsafeBufferPointer<UInt8>, order: inout KeyOrder, maxDepth: Int,
                               maxIdentifierBytes: Int) -> Result<Event, Rejection> {
        var line = raw
        if let last = line.last, last == 13 { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
        var scanner = JSONScanner(p: line, maxDepth: maxDepth)
        do {
            var fields = try scanner.scanObject(order: &order)
            return .success(try fields.makeEvent(maxIdentifierBytes: maxIdentifierBytes))
        } catch {
            return .failure(error)
        }
    }
}
