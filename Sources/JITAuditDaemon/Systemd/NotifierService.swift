import Logging
import ServiceLifecycle

/// Keeps systemd informed while the daemon runs: `WATCHDOG=1` every half
/// `WATCHDOG_USEC` (while `isHealthy` says so), `STATUS=` every
/// `statusInterval` from the `status` closure, and `STOPPING=1` as soon as a
/// graceful shutdown starts. `READY=1` is not sent here: the pipeline sends it
/// with `Notifier.ready` once its sources are open.
///
/// Order it last in the `ServiceGroup`, so it is the first told to shut down
/// and STOPPING=1 goes out before the sources are drained.
public struct NotifierService: Service {
    public let notifier: Notifier
    private let statusInterval: Duration
    private let status: @Sendable () -> String?
    private let isHealthy: @Sendable () -> Bool
    private let stoppingStatus: String

    public init(notifier: Notifier = Notifier(), statusInterval: Duration = .seconds(5),
                stoppingStatus: String = "stopping: draining sources and sinks",
                status: @escaping @Sendable () -> String?,
                isHealthy: @escaping @Sendable () -> Bool = { true }) {
        self.notifier = notifier
        self.statusInterval = statusInterval
        self.status = status
        self.isHealthy = isHealthy
        self.stoppingStatus = stoppingStatus
    }

    public func run() async throws {
        guard notifier.isEnabled else {
            try? await gracefulShutdown()
            return
        }
        let clock = ContinuousClock()
        await cancelWhenGracefulShutdown {
            var nextStatus = clock.now
            var nextWatchdog = clock.now
            while !Task.isCancelled {
                let now = clock.now
                if let wd = notifier.watchdogInterval, now >= nextWatchdog {
                    if isHealthy() { notifier.watchdog() }
                    nextWatchdog = now + wd
                }
                if now >= nextStatus {
                    if let s = status() { notifier.status(s) }
                    nextStatus = now + statusInterval
                }
                var wake = nextStatus
                if notifier.watchdogInterval != nil, nextWatchdog < wake { wake = nextWatchdog }
                do { try await Task.sleep(until: wake, clock: clock) } catch { break }
            }
        }
        notifier.stopping(status: stoppingStatus)
    }
}
