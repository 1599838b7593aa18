import JITAuditCore
import Logging

/// Wraps the daemon's log handler so that no text from outside (a tailed
/// file's name matched by a glob, an error that quotes one, a peer's data)
/// can forge a log line: the message and every metadata value go through
/// ``LogText/escape(_:)`` first, so a newline, a terminal escape or a
/// `<N>` journald priority prefix after a newline stays inside its line.
public struct EscapingLogHandler: LogHandler {
    public var inner: any LogHandler

    public init(_ inner: any LogHandler) { self.inner = inner }

    public func log(event: LogEvent) {
        var e = event
        e.message = Logger.Message(stringLiteral: LogText.escape(event.message.description))
        var metadata = event.metadata.map(Self.escape) ?? [:]
        if let error = event.error {
            metadata["error.message"] = .string(LogText.escape("\(error)"))
            metadata["error.type"] = .string(LogText.escape(String(reflecting: type(of: error))))
            e.error = nil
        }
        e.metadata = metadata.isEmpty ? nil : metadata
        inner.log(event: e)
    }

    static func escape(_ m: Logger.Metadata) -> Logger.Metadata { m.mapValues(escape) }

    static func escape(_ v: Logger.MetadataValue) -> Logger.MetadataValue {
        switch v {
        case .string(let s): .string(LogText.escape(s))
        case .stringConvertible(let c): .string(LogText.escape(c.description))
        case .dictionary(let d): .dictionary(escape(d))
        case .array(let a): .array(a.map(escape))
        }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
}
