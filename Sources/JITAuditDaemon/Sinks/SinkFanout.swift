import JITAuditCore
import Logging
import ServiceLifecycle

/// Delivers each finding to every sink through the sink's own `SinkQueue`.
///
/// `deliver` never blocks and never fails: a full or broken sink drops and
/// counts on its own, the others and the engine go on. As a `Service` it
/// starts the sink threads in `run()` and, on graceful shutdown, drains and
/// closes them; put it first in the `ServiceGroup` so it is shut down last,
/// after the engine has emitted its final findings.
public final class SinkFanout: Service, Sendable {
    public let queues: [SinkQueue]
    private let drainTimeout: Duration

    public init(queues: [SinkQueue], drainTimeout: Duration = .seconds(5)) {
        self.queues = queues
        self.drainTimeout = drainTimeout
    }

    /// One queue per sink, each `capacity` findings deep.
    public convenience init(sinks: [any FindingSink], capacity: Int = 4096, logger: Logger,
                            logInterval: Duration = .seconds(10), drainTimeout: Duration = .seconds(5)) {
        self.init(queues: sinks.map { SinkQueue(sink: $0, capacity: capacity, logger: logger, logInterval: logInterval) },
                  drainTimeout: drainTimeout)
    }

    /// Starts every sink's thread (idempotent). `run()` does this; findings
    /// delivered earlier wait in the queues.
    public func start() { for q in queues { q.start() } }

    public func deliver(_ finding: Finding) {
        for q in queues { q.enqueue(finding) }
    }

    public func deliver(_ findings: [Finding]) {
        for f in findings { deliver(f) }
    }

    /// Reopens every sink (SIGHUP).
    public func reopen() { for q in queues { q.reopen() } }

    public var stats: [SinkStats] { queues.map(\.currentStats) }

    /// Total findings dropped and failed over all sinks (for STATUS=).
    public var losses: (dropped: UInt64, failed: UInt64) {
        stats.reduce((0, 0)) { ($0.0 + $1.dropped, $0.1 + $1.failed) }
    }

    /// Drains and closes every sink, concurrently, each within the drain timeout.
    /// Returns false if any sink did not finish in time.
    @discardableResult
    public func finish() async -> Bool {
        let timeout = drainTimeout
        return await withTaskGroup(of: Bool.self) { group in
            for q in queues { group.addTask { await q.finish(timeout: timeout) } }
            var all = true
            for await ok in group { all = all && ok }
            return all
        }
    }

    public func run() async throws {
        start()
        // Returns on graceful shutdown; throws CancellationError when cancelled.
        // Either way, deliver what is queued before returning.
        try? await gracefulShutdown()
        await finish()
    }
}
