import CSQLite
import Foundation

/// A serial queue on a thread of its own, run only when a core has nothing
/// else to do (`SCHED_IDLE`; nice `nice` where that is denied).
///
/// The index file's writer (``BulkWriter``) runs here rather than on a
/// Dispatch queue: Linux keeps the policy and nice per thread, and a Dispatch
/// worker is shared with other work. At nice 10 the merges left the log's
/// writer and the engine the CPU when they wanted it (at 50,000 events/s p90
/// event-to-finding 2.2–2.5 → 1.4–1.6 ms, `scripts/bench-live`); as
/// `SCHED_IDLE` they also leave it at once when one of those wakes (nice 10
/// still let a merge finish its time slice first): p90 1.4–1.5 → 0.9–1.0
/// ms, and 4 clients 150,000–152,000 → 164,000–170,000 events/s (the merges,
/// deferred more, grew larger and fewer).
///
/// A thread that waits for the queue (``sync(_:)``) runs what is queued
/// itself, at its own priority, unless the background thread is already
/// running it: a host busy with other work never leaves the queue's callers
/// waiting for an idle core.
final class BackgroundThread: @unchecked Sendable {
    /// Shared with the thread (which must not keep its owner alive).
    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        var tasks: [() -> Void] = []
        var stopping = false
        /// Tasks taken from `tasks` are running (on the thread or a caller of `sync`).
        var running = false
        /// Test hook: the thread takes no task while set.
        var held = false
        /// What the thread got from `jitaudit_background_thread` (2: `SCHED_IDLE`, 1: nice only, 0: neither).
        var priority: Int32 = -1
        /// The thread's id, once it runs.
        var tid: Int32 = 0
        /// The thread (not a caller of `sync`) is running the tasks taken.
        var runningOnThread = false
        /// A caller of `sync` lifted the thread to the normal policy while
        /// waiting for it (``jitaudit_boost_thread``); it goes back to idle
        /// once the running tasks are done.
        var boosted = false
        /// How many times a waiting caller lifted it (tests).
        var boosts = 0

        /// Runs what is queued, on the calling thread, with `condition`
        /// locked on entry and on return (not while the tasks run).
        func runQueued() {
            var batch = tasks
            tasks.removeAll()
            running = true
            condition.unlock()
            for task in batch { task() }
            // Before anyone learns they ran: what the tasks hold (the index
            // file's connection) must not outlive a `sync`.
            batch.removeAll()
            condition.lock()
            running = false
            condition.broadcast()
        }
    }
    private let state = State()

    /// `idle` false: nice `nice` only, never `SCHED_IDLE` (for work that
    /// must keep up on a host with no idle core).
    init(name: String, nice: Int32, idle: Bool = true) {
        let state = self.state
        let thread = Thread {
            // SCHED_IDLE and the nice fail (EPERM) where a seccomp filter denies
            // sched_setscheduler and setpriority; the unit allows both
            // (systemd/jitaudit.service).
            let priority = jitaudit_background_thread(name, nice, idle ? 1 : 0)
            state.condition.lock()
            state.priority = priority
            state.tid = jitaudit_gettid()
            state.condition.broadcast()
            state.condition.unlock()
            while true {
                state.condition.lock()
                while !state.stopping && (state.tasks.isEmpty || state.running || state.held) { state.condition.wait() }
                // Stopping: what is queued still runs, once no caller of sync runs tasks.
                while state.running { state.condition.wait() }
                if state.tasks.isEmpty {
                    state.condition.unlock()
                    return
                }
                state.runningOnThread = true
                state.runQueued()
                state.runningOnThread = false
                if state.boosted {
                    // Back to idle cores only, as the thread started.
                    _ = jitaudit_background_thread(name, nice, idle ? 1 : 0)
                    state.boosted = false
                }
                state.condition.unlock()
            }
        }
        thread.name = name
        thread.start()
    }

    /// How the thread was scheduled: `SCHED_IDLE`, nice only, or neither
    /// (waits for the thread to start).
    var scheduling: Int32 {
        state.condition.lock()
        defer { state.condition.unlock() }
        while state.priority < 0 { state.condition.wait() }
        return state.priority
    }

    /// The thread's id (waits for the thread to start).
    var threadID: Int32 {
        state.condition.lock()
        defer { state.condition.unlock() }
        while state.tid == 0 { state.condition.wait() }
        return state.tid
    }

    /// How many times a caller of ``sync(_:)`` lifted the thread out of `SCHED_IDLE`.
    var boosts: Int {
        state.condition.lock()
        defer { state.condition.unlock() }
        return state.boosts
    }

    /// Test hook: while held, the thread takes nothing from the queue (as if it
    /// never got a core); callers of ``sync(_:)`` run the tasks themselves.
    func hold(_ held: Bool) {
        state.condition.lock()
        state.held = held
        state.condition.broadcast()
        state.condition.unlock()
    }

    /// The thread runs what is queued, then ends.
    deinit {
        state.condition.lock()
        state.stopping = true
        state.condition.broadcast()
        state.condition.unlock()
    }

    /// Runs `task` after everything queued before it.
    func async(_ task: @escaping () -> Void) {
        state.condition.lock()
        state.tasks.append(task)
        state.condition.broadcast()
        state.condition.unlock()
    }

    /// Runs `task` after everything queued before it, and waits for it
    /// (never from the thread itself). What the thread has not started yet
    /// runs here, on the caller's thread.
    ///
    /// While the thread itself runs a task this waits for, the thread is
    /// lifted out of `SCHED_IDLE` to the caller's priority (where the
    /// process may: see ``jitaudit_boost_thread``), so a host saturated by
    /// other work does not hold the caller for as long as an idle-only
    /// thread takes to get through it.
    func sync(_ task: @escaping () -> Void) {
        let state = self.state
        state.condition.lock()
        state.tasks.append(task)
        while true {
            while state.running {
                if state.runningOnThread && !state.boosted && state.priority == 2 && state.tid != 0 {
                    // Marked first: even when refused, one try per running batch.
                    state.boosted = true
                    if jitaudit_boost_thread(state.tid) > 0 { state.boosts += 1 }
                }
                state.condition.wait()
            }
            if state.tasks.isEmpty { break }
            state.runQueued()
        }
        state.condition.unlock()
    }
}
