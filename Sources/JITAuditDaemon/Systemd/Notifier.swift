#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import JITAuditCore

/// The `Type=notify` protocol through libsystemd's `sd_notify`: READY, STATUS,
/// WATCHDOG, RELOADING, STOPPING. Every call is a no-op when `NOTIFY_SOCKET`
/// was unset when the notifier was made (not started by systemd).
public struct Notifier: Sendable {
    /// `NOTIFY_SOCKET` was set.
    public let isEnabled: Bool
    /// Half of `WATCHDOG_USEC` when systemd expects watchdog pings from this
    /// process (`sd_watchdog_enabled`, which also checks `WATCHDOG_PID`).
    public let watchdogInterval: Duration?

    public init() {
        isEnabled = getenv("NOTIFY_SOCKET") != nil
        var usec: UInt64 = 0
        if isEnabled, sd_watchdog_enabled(0, &usec) > 0, usec > 0 {
            watchdogInterval = .microseconds(Int64(usec / 2))
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends raw `KEY=value` lines. True when a message was sent.
    @discardableResult
    public func send(_ state: String) -> Bool {
        guard isEnabled else { return false }
        return sd_notify(0, state) > 0
    }

    /// `READY=1`, with an optional first status: sources are open, findings flow.
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send("READY=1" + (status.map { "\nSTATUS=" + Notifier.oneLine($0) } ?? ""))
    }

    /// `STATUS=`: what `systemctl status` shows. Control characters (newlines
    /// would start a new assignment) are escaped.
    @discardableResult
    public func status(_ text: String) -> Bool { send("STATUS=" + Notifier.oneLine(text)) }

    /// `WATCHDOG=1`: this process is alive and making progress.
    @discardableResult
    public func watchdog() -> Bool { send("WATCHDOG=1") }

    /// `RELOADING=1` with `MONOTONIC_USEC`, at the start of a SIGHUP reload;
    /// follow it with `ready(status:)` when the reload is done (or failed and
    /// the old rules stay).
    @discardableResult
    public func reloading() -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        return send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    /// `STOPPING=1`, as soon as a graceful shutdown begins.
    @discardableResult
    public func stopping(status: String? = nil) -> Bool {
        send("STOPPING=1" + (status.map { "\nSTATUS=" + Notifier.oneLine($0) } ?? ""))
    }

    static func oneLine(_ s: String) -> String { LogText.escape(s) }
}
