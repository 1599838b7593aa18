import JITAuditCore

/// An output for findings (Falco's `outputs` contract): stdout, syslog, the journal.
///
/// A sink is driven by exactly one thread, its `SinkQueue`'s worker, so an
/// implementation needs no locking of its own and may block (a full syslog
/// socket, a stalled pipe) without stalling the engine or the other sinks.
/// Errors are thrown, never swallowed: the queue counts them and logs them at
/// a limited rate.
public protocol FindingSink: AnyObject {
    /// Short stable name for logs and counters: `stdout`, `syslog`, `journal`.
    var name: String { get }
    /// Called once on the worker thread before the first finding. A sink whose
    /// destination is missing (no journald, no `/dev/log`) throws here, so the
    /// problem is logged at startup; the queue keeps running and retries on
    /// every finding (the destination may come up later).
    func open() throws
    /// Delivers one finding. May buffer; `flush` makes it visible.
    func emit(_ finding: Finding) throws
    /// Pushes out anything buffered. Called whenever the queue runs empty.
    func flush() throws
    /// Reopens the destination (SIGHUP, log rotation).
    func reopen() throws
    /// Flushes and releases the destination. Called once, last.
    func close()
}

extension FindingSink {
    public func open() throws {}
    public func flush() throws {}
    public func reopen() throws {}
    public func close() {}
}

/// What went wrong in a sink: a stable code, a message that says how to fix it,
/// and the errno where there is one.
public struct SinkError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String { case unavailable, write, rejected, queueFull }
        private let kind: Kind
        /// The destination does not exist (no journald socket, no `/dev/log`).
        public static let unavailable = Code(kind: .unavailable)
        /// Writing failed (EPIPE, EIO, ...).
        public static let write = Code(kind: .write)
        /// The destination refused the entry (`sd_journal_sendv` error).
        public static let rejected = Code(kind: .rejected)
        /// The sink's queue was full; findings were dropped.
        public static let queueFull = Code(kind: .queueFull)
        public var description: String { kind.rawValue }
    }

    public var code: Code
    public var sink: String
    public var message: String
    public var errno: Int32?

    public init(_ code: Code, sink: String, _ message: String, errno: Int32? = nil) {
        self.code = code; self.sink = sink; self.message = message; self.errno = errno
    }

    public var description: String {
        var s = "\(sink) sink: \(message)"
        if let e = errno { s += " (errno \(e))" }
        return s
    }
}

extension Severity {
    /// syslog(3) level of a finding of this severity (also the journal's `PRIORITY=`).
    public var syslogLevel: Int32 {
        switch self {
        case .critical: return 2  // LOG_CRIT
        case .high: return 3      // LOG_ERR
        case .medium: return 4    // LOG_WARNING
        case .low: return 5       // LOG_NOTICE
        case .info: return 6      // LOG_INFO
        }
    }
}
