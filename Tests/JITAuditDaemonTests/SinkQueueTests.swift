import Foundation
import JITAuditCore
import JITAuditDaemon
import Synchronization
import Testing

/// A sink that records what it gets, and can be made to block or to fail.
final class ProbeSink: FindingSink, @unchecked Sendable {
    // @unchecked: `state` is behind its Mutex; `gate` is a semaphore.
    struct State {
        var emitted: [String] = []
        var calls: [String] = []
        var failEmits = false
    }
    let name: String
    let state = Mutex(State())
    /// When set, `emit` waits on it (a stalled destination).
    let gate: DispatchSemaphore?

    init(name: String, blocking: Bool = false, failing: Bool = false) {
        self.name = name
        self.gate = blocking ? DispatchSemaphore(value: 0) : nil
        state.withLock { $0.failEmits = failing }
    }

    func open() throws { state.withLock { $0.calls.append("open") } }
    func emit(_ finding: Finding) throws {
        gate?.wait()
        let fail = state.withLock { s -> Bool in
            if s.failEmits { return true }
            s.emitted.append(finding.id)
            return false
        }
        if fail { throw SinkError(.write, sink: name, "probe failure") }
    }
    func flush() throws { state.withLock { $0.calls.append("flush") } }
    func reopen() throws { state.withLock { $0.calls.append("reopen") } }
    func close() { state.withLock { $0.calls.append("close") } }

    var emitted: [String] { state.withLock { $0.emitted } }
    var calls: [String] { state.withLock { $0.calls } }
}

@Suite struct SinkQueueTests {
    let findings = (0..<50).map { SampleFindings.make(n: $0) }

    @Test func deliversInOrderFlushesWhenIdleAndClosesOnFinish() async {
        let probe = ProbeSink(name: "probe")
        let q = SinkQueue(sink: probe, capacity: 64, logger: RecordingLogHandler().logger)
        for f in findings { q.enqueue(f) }
        q.start()
        #expect(SinkTestKit.eventually { probe.emitted.count == 50 })
        #expect(SinkTestKit.eventually { probe.calls.last == "flush" })
        #expect(await q.finish())
        #expect(probe.emitted == findings.map(\.id))
        #expect(probe.calls.first == "open")
        #expect(probe.calls.last == "close")
        let s = q.currentStats
        #expect(s.delivered == 50 && s.dropped == 0 && s.failed == 0 && s.queued == 0)
        #expect(!q.enqueue(findings[0]), "a finished queue takes nothing")
        #expect(q.currentStats.dropped == 1)
    }

    /// A stalled sink fills its own queue and drops (counted, logged once);
    /// the fanout's other sink still gets every finding, and `deliver` never blocks.
    @Test func stalledSinkDropsWithoutStallingOthers() async {
        let log = RecordingLogHandler()
        let stuck = ProbeSink(name: "stuck", blocking: true)
        let fast = ProbeSink(name: "fast")
        let fanout = SinkFanout(queues: [SinkQueue(sink: stuck, capacity: 8, logger: log.logger),
                                         SinkQueue(sink: fast, capacity: 64, logger: log.logger)])
        fanout.start()
        let started = ContinuousClock.now
        for f in findings { fanout.deliver(f) }
        #expect(ContinuousClock.now - started < .seconds(1), "deliver does not wait for a sink")
        #expect(SinkTestKit.eventually { fast.emitted.count == 50 })
        // 8 queued plus the one inside the blocked emit (if the worker took
        // it before the ring filled), the rest dropped: nothing unaccounted.
        #expect(SinkTestKit.eventually { fanout.stats[0].queued >= 8 && fanout.stats[0].queued <= 9 })
        let stuckStats = fanout.stats[0]
        #expect(stuckStats.dropped + UInt64(stuckStats.queued) == 50)
        #expect(fanout.stats[1].dropped == 0)
        for _ in 0..<50 { stuck.gate!.signal() }
        #expect(await fanout.finish())
        #expect(UInt64(stuck.emitted.count) + fanout.stats[0].dropped == 50)
        #expect(log.messages("sink queue full; findings dropped").count == 1)
        #expect(fanout.losses.dropped == fanout.stats[0].dropped)
    }

    @Test func failuresAreCountedAndLoggedAtALimitedRate() async {
        let log = RecordingLogHandler()
        let failing = ProbeSink(name: "failing", failing: true)
        let q = SinkQueue(sink: failing, capacity: 64, logger: log.logger, logInterval: .seconds(3600))
        q.start()
        for f in findings { q.enqueue(f) }
        #expect(await q.finish())
        #expect(q.currentStats.failed == 50)
        #expect(q.currentStats.delivered == 0)
        #expect(log.messages("sink failed").count == 1, "one log line per interval, not one per failure")
        #expect(log.messages("sink closed with losses").first?["jitaudit.sink.failed"] == "50")
    }

    @Test func reopenRunsOnTheSinkThread() async {
        let probe = ProbeSink(name: "probe")
        let q = SinkQueue(sink: probe, capacity: 4, logger: RecordingLogHandler().logger)
        q.start()
        q.reopen()
        #expect(SinkTestKit.eventually { probe.calls.contains("reopen") })
        await q.finish()
    }

    /// A sink stuck forever must not hold up shutdown: `finish` gives up after
    /// its timeout and counts what was still queued as dropped.
    @Test func finishGivesUpOnAStuckSink() async {
        let log = RecordingLogHandler()
        let stuck = ProbeSink(name: "stuck", blocking: true)
        let q = SinkQueue(sink: stuck, capacity: 16, logger: log.logger)
        q.start()
        for f in findings.prefix(5) { q.enqueue(f) }
        #expect(SinkTestKit.eventually { q.currentStats.queued == 5 })
        #expect(await q.finish(timeout: .milliseconds(100)) == false)
        #expect(q.currentStats.dropped == 5)
        #expect(q.currentStats.queued == 0)
        #expect(log.messages("sink did not finish in time; undelivered findings dropped").count == 1)
        for _ in 0..<5 { stuck.gate!.signal() }  // let the abandoned thread end
        #expect(SinkTestKit.eventually { stuck.calls.last == "close" })
        #expect(q.currentStats.delivered == 0, "what was counted as dropped is not counted again")
    }

    /// Unavailable at startup: logged as such, not counted as a failed finding.
    @Test func openFailureIsLoggedAtStartup() async {
        let log = RecordingLogHandler()
        final class Unavailable: FindingSink {
            let name = "journal"
            func open() throws { throw SinkError(.unavailable, sink: name, "no journald") }
            func emit(_ finding: Finding) throws {}
        }
        let q = SinkQueue(sink: Unavailable(), capacity: 4, logger: log.logger)
        q.start()
        await q.finish()
        #expect(log.messages("sink unavailable at startup").count == 1)
        #expect(q.currentStats.failed == 0)
    }
}

@Suite struct StdoutSinkTests {
    func capture(_ format: StdoutSink.Format, _ findings: [Finding]) throws -> String {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let sink = StdoutSink(format: format, fd: fds[1])
        for f in findings { try sink.emit(f) }
        try sink.flush()
        sink.close()
        close(fds[1])
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        close(fds[0])
        return String(decoding: out, as: UTF8.self)
    }

    @Test func jsonLinesAsInTheSpec() throws {
        let f = SampleFindings.make()
        let out = try capture(.json, [f, SampleFindings.make(n: 1)])
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty)
        #expect(String(lines[0]) == FindingFormat.json(f))
        #expect(lines[0].hasPrefix("{\"id\":\"\(f.id)\",\"rule\":\"self_approval\",\"severity\":\"critical\""))
    }

    @Test func textLinesEscapeControlCharacters() throws {
        let f = SampleFindings.make(actor: SampleFindings.hostile, summary: SampleFindings.hostile)
        let out = try capture(.text, [f])
        #expect(out == FindingFormat.text(f) + "\n")
        #expect(out.filter { $0 == "\n" }.count == 1)
        #expect(!out.contains("\u{1B}"))
    }

    @Test func writeErrorsAreThrown() throws {
        let fd = open("/dev/full", O_WRONLY)
        guard fd >= 0 else { print("skipped: no /dev/full"); return }
        defer { close(fd) }
        let sink = StdoutSink(format: .json, fd: fd)
        try sink.emit(SampleFindings.make())
        #expect(throws: SinkError.self) { try sink.flush() }
    }
}
