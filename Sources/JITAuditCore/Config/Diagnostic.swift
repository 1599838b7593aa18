/// One problem found while loading a rule or configuration file.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable identifier of the kind of problem (`unknown_key`, `bad_duration`, …).
    public var code: String
    public var message: String
    public var location: SourceLocation?

    public init(code: String, message: String, location: SourceLocation?) {
        self.code = code
        self.message = message
        self.location = location
    }

    /// `file:line:column: error: message [code]`, the shape editors and CI annotate.
    public var description: String {
        (location.map { "\($0): " } ?? "") + "error: \(message) [\(code)]"
    }
}

/// Every problem found in a load, in order; loading goes on past the first.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
