import Foundation
import Synchronization
import Testing
@testable import JITAuditStore

/// The queue the index file's writer runs on (``BackgroundThread``).
@Suite struct BackgroundThreadTests {
    /// Tasks run in the order queued, one at a time, on the thread.
    @Test func tasksRunInOrderOnTheThread() {
        let queue = BackgroundThread(name: "test.order", nice: 10)
        let seen = Mutex<[Int]>([])
        for i in 0..<100 { queue.async { seen.withLock { $0.append(i) } } }
        queue.sync {}
        #expect(seen.withLock { $0 } == Array(0..<100))
        #expect(queue.scheduling == 2, "as root the thread gets SCHED_IDLE")
    }

    /// `idle: false` (the log's checkpointer): the nice only, never `SCHED_IDLE`.
    @Test func aThreadThatMustNotStarveGetsTheNiceOnly() throws {
        let queue = BackgroundThread(name: "test.niceonly", nice: 10, idle: false)
        queue.sync {}
        #expect(queue.scheduling == 1)
        #expect(Self.scheduling(of: queue.threadID).map { $0 == (10, 0) } == true,
                "\(String(describing: Self.scheduling(of: queue.threadID)))")
    }

    /// A thread that never gets a core (held here) does not keep a caller of
    /// `sync` waiting: the caller runs what is queued itself, in order.
    @Test func syncRunsWhatTheThreadHasNotStarted() {
        let queue = BackgroundThread(name: "test.held", nice: 10)
        queue.hold(true)
        let seen = Mutex<[(Int, String)]>([])
        func current() -> String { Thread.current.name ?? "" }
        for i in 0..<3 { queue.async { seen.withLock { $0.append((i, current())) } } }
        Thread.current.name = "test.caller"
        queue.sync { seen.withLock { $0.append((3, current())) } }
        let ran = seen.withLock { $0 }
        #expect(ran.map(\.0) == [0, 1, 2, 3])
        #expect(ran.allSatisfy { $0.1 == "test.caller" }, "ran on: \(ran.map(\.1))")
        queue.hold(false)
        queue.async { seen.withLock { $0.append((4, current())) } }
        queue.sync {}
        #expect(seen.withLock { $0.last?.0 } == 4)
    }

    /// A caller of `sync` waits for the task the thread is running; nothing
    /// runs twice or beside it.
    @Test func syncWaitsForTheRunningTask() {
        let queue = BackgroundThread(name: "test.busy", nice: 10)
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let log = Mutex<[String]>([])
        queue.async {
            started.signal()
            release.wait()
            log.withLock { $0.append("first") }
        }
        started.wait()
        queue.async { log.withLock { $0.append("second") } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { release.signal() }
        queue.sync { log.withLock { $0.append("third") } }
        #expect(log.withLock { $0 } == ["first", "second", "third"])
    }

    /// Nice and scheduling policy (5: `SCHED_IDLE`) of a thread of this process, from /proc.
    static func scheduling(of tid: some CustomStringConvertible) -> (nice: Int, policy: Int)? {
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command: nice is the 19th, policy the 41st.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[16]) ?? -99, Int(fields[38]) ?? -99)
    }

    /// Nice and policy of each thread of this process named `name`.
    static func scheduling(ofThreadsNamed name: String) throws -> [(nice: Int, policy: Int)] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { task in
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name else { return nil }
            return scheduling(of: task)
        }
    }

    /// A caller of `sync` that waits for a task the idle-only thread is
    /// running lifts the thread to the normal policy at the caller's nice
    /// until that task is done (on a host saturated by other work, an idle
    /// thread would take minutes to get through it); then it is idle-only again.
    @Test func aWaitingCallerLiftsTheThreadOutOfIdle() throws {
        let queue = BackgroundThread(name: "test.lift", nice: 10)
        #expect(queue.scheduling == 2, "as root the thread gets SCHED_IDLE")
        let tid = queue.threadID
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        queue.async { started.signal(); release.wait() }
        started.wait()
        #expect(Self.scheduling(of: tid).map { $0 == (10, 5) } == true, "\(String(describing: Self.scheduling(of: tid)))")
        Thread { queue.sync {}; done.signal() }.start()
        var lifted: (nice: Int, policy: Int)?
        for _ in 0..<250 {
            if let s = Self.scheduling(of: tid), s.policy == 0 { lifted = s; break }
            usleep(20_000)
        }
        // 0: the normal policy; nice 0 is the waiting thread's.
        #expect(lifted.map { $0 == (0, 0) } == true, "while the caller waits: \(String(describing: lifted))")
        release.signal()
        done.wait()
        var after: (nice: Int, policy: Int)?
        for _ in 0..<250 {
            after = Self.scheduling(of: tid)
            if after?.policy == 5 { break }
            usleep(20_000)
        }
        #expect(after.map { $0 == (10, 5) } == true, "after the task: \(String(describing: after))")
        // Once, or twice when the thread also takes the caller's own task
        // before the caller gets back to run it (it lifts the thread again).
        #expect((1...2).contains(queue.boosts), "\(queue.boosts)")
    }
}
