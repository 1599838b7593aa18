#if canImport(Glibc)
import Glibc
#endif
import JITAuditCore
import Synchronization

/// A syslog(3) facility, by the name used in configuration files.
public struct SyslogFacility: Sendable, Hashable, CustomStringConvertible {
    /// The facility code shifted into place (`LOG_AUTHPRIV` is `10 << 3`).
    public let value: Int32
    public let name: String

    public static let names: [String: Int32] = [
        "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
        "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
        "local0": 16, "local1": 17, "local2": 18, "local3": 19,
        "local4": 20, "local5": 21, "local6": 22, "local7": 23,
    ]

    /// `authpriv`: approvals are security records, readable by admins only on most systems.
    public static let authpriv = SyslogFacility(name: "authpriv")!

    /// Nil for an unknown name; `names.keys` lists the valid ones.
    public init?(name: String) {
        let key = name.lowercased().hasPrefix("log_") ? String(name.lowercased().dropFirst(4)) : name.lowercased()
        guard let code = SyslogFacility.names[key] else { return nil }
        self.name = key
        self.value = code << 3
    }

    /// The facility number as the journal's `SYSLOG_FACILITY=` wants it.
    public var code: Int32 { value >> 3 }
    public var description: String { name }
}

/// Findings to the system logger through syslog(3): ident `jitaudit`, the
/// configured facility (default `authpriv`), level from severity.
///
/// The message is `<rule>: <summary>` with every control character escaped
/// (`LogText.escape`), and it is passed as an argument to a constant `"%s"`
/// format, so neither a newline nor a `%n` in event text can forge a line or
/// reach printf.
///
/// syslog(3) is silent when nothing listens on `/dev/log`; this sink checks
/// that the socket exists before each message and counts a failure when it
/// does not. (A socket file whose daemon died is still invisible: glibc drops
/// on `ECONNREFUSED` without telling.) syslog(3) state is per process: use one
/// `SyslogSink` per process.
public final class SyslogSink: FindingSink {
    public static let devLog = "/dev/log"
    public let name = "syslog"
    public let facility: SyslogFacility
    public let ident: String
    private let socketPath: String
    /// openlog(3) keeps the pointer, so each ident string lives as long as the process.
    private static let identStorage = Mutex<[String: UnsafeMutablePointer<CChar>]>([:])
    private var opened = false

    public init(facility: SyslogFacility = .authpriv, ident: String = "jitaudit", socketPath: String = SyslogSink.devLog) {
        self.facility = facility
        self.ident = ident
        self.socketPath = socketPath
    }

    /// The line a finding becomes (without the syslog header).
    public static func message(for f: Finding) -> String {
        f.rule + ": " + LogText.escape(f.summary)
    }

    /// True when a socket exists at `path` (default `/dev/log`).
    public static func isAvailable(path: String = devLog) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    public func open() throws {
        openIfNeeded()
        try checkSocket()
    }

    private func openIfNeeded() {
        guard !opened else { return }
        let ident = self.ident
        let p = SyslogSink.identStorage.withLock { table in
            if let p = table[ident] { return p }
            let p = strdup(ident)!
            table[ident] = p
            return p
        }
        openlog(p, LOG_PID | LOG_NDELAY, facility.value)
        opened = true
    }

    private func checkSocket() throws {
        guard SyslogSink.isAvailable(path: socketPath) else {
            throw SinkError(.unavailable, sink: name, "no syslog daemon: \(socketPath) is not a socket; findings are not reaching syslog (start rsyslog or syslog-ng, or disable the syslog sink)")
        }
    }

    public func emit(_ finding: Finding) throws {
        openIfNeeded()
        try checkSocket()
        let message = SyslogSink.message(for: finding)
        let priority = facility.value | finding.severity.syslogLevel
        message.withCString { text in
            withVaList([text]) { vsyslog(priority, "%s", $0) }
        }
    }

    public func reopen() throws {
        if opened { closelog(); opened = false }
        openIfNeeded()
    }

    public func close() {
        if opened { closelog(); opened = false }
    }
}
