import Foundation
import JITAuditCore
import Logging
import Synchronization

/// Counters of one sink, for STATUS= lines and the shutdown summary.
public struct SinkStats: Sendable, Hashable {
    public var name: String
    /// Findings the sink took without error.
    public var delivered: UInt64 = 0
    /// Findings refused because the queue was full or closed.
    public var dropped: UInt64 = 0
    /// Findings (and flush/reopen calls) the sink threw on.
    public var failed: UInt64 = 0
    /// Findings waiting now (including one being delivered).
    public var queued: Int = 0
}

/// A bounded queue in front of one sink, drained by the sink's own thread.
///
/// `enqueue` never blocks: when the queue is full the finding is dropped and
/// counted (the SQLite findings table is the durable record; sinks are
/// notifications). A dedicated thread rather than a task, because sinks make
/// blocking calls (syslog(3) on a full `/dev/log`, a write to a stalled pipe)
/// that must not occupy the cooperative pool. Failures and drops are logged
/// at most once per `logInterval`, with the number suppressed in between.
public final class SinkQueue: @unchecked Sendable {
    // @unchecked: every mutable field below is guarded by `cond`, except
    // `sink`, which only the worker thread touches once it has started.
    private let cond = NSCondition()
    private var ring: [Finding?]
    private var head = 0
    private var count = 0
    private var stats: SinkStats
    private var reopenRequested = false
    private var closing = false
    private var started = false
    private var finished = false
    /// The worker has taken a finding out of the ring and not yet delivered it.
    private var inFlight = false
    /// `finish` timed out: whatever the worker still does is not counted.
    private var abandoned = false
    private var waiters: [FinishWaiter] = []

    private let sink: any FindingSink
    public let name: String
    public let capacity: Int
    private let logger: Logger
    private let logInterval: Duration

    public init(sink: any FindingSink, capacity: Int = 4096, logger: Logger, logInterval: Duration = .seconds(10)) {
        precondition(capacity > 0, "a sink queue holds at least one finding")
        self.sink = sink
        self.name = sink.name
        self.capacity = capacity
        self.ring = Array(repeating: nil, count: capacity)
        self.stats = SinkStats(name: sink.name)
        self.logger = logger
        self.logInterval = logInterval
    }

    /// Starts the worker thread (once). Findings enqueued before wait for it.
    public func start() {
        cond.lock()
        defer { cond.unlock() }
        guard !started else { return }
        started = true
        let t = Thread { [self] in self.work() }
        t.name = "jitaudit-sink-\(name)"
        t.start()
    }

    /// Queues a finding; false (and counted as dropped) when full or closed.
    @discardableResult
    public func enqueue(_ finding: Finding) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        guard !closing, count < capacity else {
            stats.dropped += 1
            return false
        }
        ring[(head + count) % capacity] = finding
        count += 1
        if count == 1 { cond.signal() }
        return true
    }

    /// Asks the worker to reopen the sink before its next finding.
    public func reopen() {
        cond.lock()
        reopenRequested = true
        cond.signal()
        cond.unlock()
    }

    public var currentStats: SinkStats {
        cond.lock()
        defer { cond.unlock() }
        var s = stats
        s.queued = count + (inFlight ? 1 : 0)
        return s
    }

    /// Stops taking findings, lets the worker deliver what is queued, flush and
    /// close the sink. Returns false if that did not happen within `timeout`
    /// (a sink stuck in a blocking call); what was still queued is then counted
    /// as dropped and the worker is abandoned.
    @discardableResult
    public func finish(timeout: Duration = .seconds(5)) async -> Bool {
        let needsStart: Bool = {
            cond.lock()
            defer { cond.unlock() }
            closing = true
            cond.signal()
            return !started
        }()
        if needsStart { start() }
        let done: Bool = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let waiter = FinishWaiter(c)
            cond.lock()
            if finished { cond.unlock(); waiter.resume(true); return }
            waiters.append(waiter)
            cond.unlock()
            waiter.armTimer(timeout)
        }
        if !done {
            let lost: Int = {
                cond.lock()
                defer { cond.unlock() }
                let n = count + (inFlight ? 1 : 0)
                stats.dropped += UInt64(n)
                // The abandoned worker drains nothing more: it stops at its next look.
                for i in 0..<count { ring[(head + i) % capacity] = nil }
                count = 0
                inFlight = false
                abandoned = true
                return n
            }()
            logger.error("sink did not finish in time; undelivered findings dropped", metadata: [
                "jitaudit.sink": "\(name)", "jitaudit.sink.lost": "\(lost)",
            ])
        }
        return done
    }

    // MARK: worker

    private func work() {
        var reporter = FailureReporter(interval: logInterval)
        var lastDropped: UInt64 = 0
        do { try sink.open() } catch { fail(error, &reporter, counted: false, startup: true) }

        while true {
            cond.lock()
            inFlight = false
            while count == 0 && !closing && !reopenRequested { cond.wait() }
            let reopenNow = reopenRequested
            reopenRequested = false
            var next: Finding? = nil
            if count > 0 {
                next = ring[head]
                ring[head] = nil
                head = (head + 1) % capacity
                count -= 1
                inFlight = true
            }
            let drained = count == 0
            let stop = closing && drained && next == nil
            let dropped = stats.dropped
            cond.unlock()

            if reopenNow {
                do { try sink.reopen() } catch { fail(error, &reporter) }
            }
            if let f = next {
                do {
                    try sink.emit(f)
                    cond.lock(); if !abandoned { stats.delivered += 1 }; cond.unlock()
                } catch { fail(error, &reporter) }
                if drained {
                    do { try sink.flush() } catch { fail(error, &reporter) }
                }
            }
            if dropped > lastDropped {
                if reporter.shouldLog(now: .now, event: .drop) {
                    logger.warning("sink queue full; findings dropped", metadata: [
                        "jitaudit.sink": "\(name)", "jitaudit.sink.dropped_total": "\(dropped)",
                        "jitaudit.sink.capacity": "\(capacity)",
                    ])
                }
                lastDropped = dropped
            }
            if stop { break }
        }
        sink.close()

        cond.lock()
        finished = true
        let ws = waiters
        waiters.removeAll()
        let total = stats
        cond.unlock()
        for w in ws { w.resume(true) }
        if total.failed > 0 || total.dropped > 0 {
            logger.warning("sink closed with losses", metadata: [
                "jitaudit.sink": "\(name)", "jitaudit.sink.delivered": "\(total.delivered)",
                "jitaudit.sink.failed": "\(total.failed)", "jitaudit.sink.dropped": "\(total.dropped)",
            ])
        }
    }

    private func fail(_ error: any Error, _ reporter: inout FailureReporter, counted: Bool = true, startup: Bool = false) {
        if counted { cond.lock(); stats.failed += 1; cond.unlock() }
        if startup {
            logger.error("sink unavailable at startup", metadata: ["jitaudit.sink": "\(name)", "jitaudit.error": "\(error)"])
            return
        }
        let (log, suppressed) = reporter.record(now: .now)
        if log {
            logger.error("sink failed", metadata: [
                "jitaudit.sink": "\(name)", "jitaudit.error": "\(error)",
                "jitaudit.sink.suppressed": "\(suppressed)",
            ])
        }
    }
}

/// Rate limit for a sink's failure logs: the first failure is logged, then at
/// most one per interval, saying how many were not logged in between.
struct FailureReporter {
    enum Event { case failure, drop }
    let interval: Duration
    private var lastFailureLog: ContinuousClock.Instant?
    private var lastDropLog: ContinuousClock.Instant?
    private var suppressed = 0

    init(interval: Duration) { self.interval = interval }

    /// Records one failure; says whether to log it and how many were suppressed since the last log.
    mutating func record(now: ContinuousClock.Instant) -> (log: Bool, suppressed: Int) {
        if shouldLog(now: now, event: .failure) {
            defer { suppressed = 0 }
            return (true, suppressed)
        }
        suppressed += 1
        return (false, suppressed)
    }

    mutating func shouldLog(now: ContinuousClock.Instant, event: Event) -> Bool {
        let last = event == .failure ? lastFailureLog : lastDropLog
        if let last, now - last < interval { return false }
        if event == .failure { lastFailureLog = now } else { lastDropLog = now }
        return true
    }
}

/// One `finish` call waiting for the worker, resumed exactly once: by the
/// worker when it is done, or by the timer.
final class FinishWaiter: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Bool, Never>?
        var timer: Task<Void, Never>?
    }
    private let state: Mutex<State>

    init(_ c: CheckedContinuation<Bool, Never>) { state = Mutex(State(continuation: c)) }

    func armTimer(_ timeout: Duration) {
        let t = Task { [self] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { resume(false) }
        }
        let alreadyDone = state.withLock { s -> Bool in
            if s.continuation == nil { return true }
            s.timer = t
            return false
        }
        if alreadyDone { t.cancel() }
    }

    func resume(_ value: Bool) {
        let (c, t) = state.withLock { s -> (CheckedContinuation<Bool, Never>?, Task<Void, Never>?) in
            defer { s.continuation = nil; s.timer = nil }
            return (s.continuation, s.timer)
        }
        t?.cancel()
        c?.resume(returning: value)
    }
}
