import CSQLite
import Foundation

/// A serial queue on a thread of its own, at a lower CPU priority.
///
/// The index file's writer (``BulkWriter``) runs here rather than on a
/// Dispatch queue: Linux keeps `nice` per thread, and a Dispatch worker is
/// shared with other work. On this 2-core machine the merges at nice 10 left
/// the log's writer and the engine the CPU when they wanted it: at 50,000
/// events/s p90 event-to-finding 2.2–2.5 → 1.4–1.6 ms, and with 4 clients
/// 128,000–130,000 → 150,000–154,000 events/s (the merges, deferred a little,
/// grew larger and fewer), `scripts/bench-live`.
final class BackgroundThread: @unchecked Sendable {
    /// Shared with the thread (which must not keep its owner alive).
    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        var tasks: [() -> Void] = []
        var stopping = false
    }
    private let state = State()

    init(name: String, nice: Int32) {
        let state = self.state
        let thread = Thread {
            // The nice fails (EPERM) where a seccomp filter denies
            // setpriority; the unit allows it (systemd/jitaudit.service).
            _ = jitaudit_background_thread(name, nice)
            while true {
                state.condition.lock()
                while state.tasks.isEmpty && !state.stopping { state.condition.wait() }
                if state.tasks.isEmpty {
                    state.condition.unlock()
                    return
                }
                let batch = state.tasks
                state.tasks.removeAll()
                state.condition.unlock()
                for task in batch { task() }
            }
        }
        thread.name = name
        thread.start()
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
    /// (never from the thread itself).
    func sync(_ task: @escaping () -> Void) {
        let state = self.state
        let done = Done()
        state.condition.lock()
        state.tasks.append {
            task()
            state.condition.lock()
            done.value = true
            state.condition.broadcast()
            state.condition.unlock()
        }
        state.condition.broadcast()
        while !done.value { state.condition.wait() }
        state.condition.unlock()
    }

    /// Set under the condition's lock.
    private final class Done: @unchecked Sendable { var value = false }
}
