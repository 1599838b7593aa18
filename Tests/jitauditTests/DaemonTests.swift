import Foundation
import Testing
import JITAuditCore
#if canImport(Glibc)
import Glibc
#endif

/// `jitaudit run` end to end: real sockets, real SQLite, real signals.
@Suite(.serialized) struct DaemonTests {
    static let demo = Binary.root.appendingPathComponent("fixtures/demo.jsonl")

    static func expected(_ name: String) throws -> [FindingKey] {
        FindingKey.parse(try String(contentsOf: Binary.root.appendingPathComponent("fixtures/\(name).expected.jsonl"), encoding: .utf8))
    }

    /// Historical events sent over the socket are judged on their own
    /// timestamps: the demo story gives its expected findings on stdout and in
    /// SQLite, and every event is in the audit log.
    @Test func socketEventsGiveFindingsOnStdoutAndInSQLite() throws {
        let d = try Daemon(configBody: "allowed_lateness: 2s\n")
        try d.start()
        let r = try d.emit(try String(contentsOf: Self.demo, encoding: .utf8))
        #expect(r.stdout.contains("accepted=82") || r.stderr.contains("accepted=82") || r.status == 0)
        let want = try Self.expected("demo")
        try waitUntil("the demo's findings", timeout: 20) { d.findings.count >= want.count }
        #expect(try d.stop() == 0)
        #expect(d.findings == want, "stderr: \(d.stderr.suffix(2000))")
        #expect(try d.sql("SELECT count(*) FROM events") == ["82"])
        #expect(try d.sql("SELECT count(*) FROM findings") == ["\(want.count)"])
        #expect(try Binary.run(["verify", "--db", d.database]).status == 0)
    }

    /// SIGHUP with a broken rule file keeps the running rules and logs the
    /// located error; a fixed file is then picked up.
    @Test func sighupWithABrokenRuleFileKeepsTheOldRules() throws {
        let dir = try temporaryDirectory()
        let rules = dir.appendingPathComponent("rules.yaml")
        let night = """
        rules:
          - id: any_approve
            severity: low
            type: match
            when: {event: approve}
        """
        try night.write(to: rules, atomically: true, encoding: .utf8)
        let d = try Daemon(dir: dir, configBody: "allowed_lateness: 1s\nrules: [\(rules.path)]\n")
        try d.start()
        try d.emit(line("2026-03-02T10:00:00Z", "request", "r1", "alice") + "\n" + line("2026-03-02T10:05:00Z", "approve", "r1", "bob") + "\n")
        try waitUntil("the first finding") { d.findings.count == 1 }
        try "rules:\n  - id: broken\n    severity: nope\n    type: match\n".write(to: rules, atomically: true, encoding: .utf8)
        d.signal(SIGHUP)
        try waitUntil("the reload error in the log") { d.stderr.contains("\(rules.path):3:15") }
        try d.emit(line("2026-03-02T11:00:00Z", "request", "r2", "alice") + "\n" + line("2026-03-02T11:05:00Z", "approve", "r2", "bob") + "\n")
        try waitUntil("the old rule still firing") { d.findings.count == 2 }
        try night.replacingOccurrences(of: "any_approve", with: "any_approve_v2").write(to: rules, atomically: true, encoding: .utf8)
        d.signal(SIGHUP)
        try waitUntil("the reload") { d.stderr.contains("rules reloaded") }
        try d.emit(line("2026-03-02T12:00:00Z", "request", "r3", "alice") + "\n" + line("2026-03-02T12:05:00Z", "approve", "r3", "bob") + "\n")
        try waitUntil("the new rule firing") { d.findings.contains { $0.rule == "any_approve_v2" } }
        #expect(!d.stderr.contains("only a restart applies"), "nothing but the rules changed")
        // Daemon keys apply at the next start only, and a reload that changes them says which.
        let config = try String(contentsOf: d.config, encoding: .utf8)
        try config.replacingOccurrences(of: "sinks: {stdout: json,", with: "sinks: {stdout: text,")
            .replacingOccurrences(of: "snapshot_interval: 1s", with: "snapshot_interval: 2s")
            .write(to: d.config, atomically: true, encoding: .utf8)
        d.signal(SIGHUP)
        try waitUntil("the warning") { d.stderr.contains("changed keys that only a restart applies") }
        #expect(logLines(d.stderr, containing: "only a restart applies").last?.contains("jitaudit.keys=sinks.stdout,snapshot_interval") == true,
                "\(d.stderr.suffix(800))")
        try d.emit(line("2026-03-02T13:00:00Z", "request", "r4", "alice") + "\n" + line("2026-03-02T13:05:00Z", "approve", "r4", "bob") + "\n")
        try waitUntil("a finding, still as JSON") { d.findings.count == 4 }
        #expect(try d.stop() == 0)
    }

    /// `retention` prunes the audit log in the running daemon (hourly, and once
    /// at start); the hash chain still verifies from the oldest kept row.
    @Test func retentionPrunesOldEventsAndTheChainStillVerifies() throws {
        let d = try Daemon(configBody: "allowed_lateness: 2s\nretention: 30d\n")
        try d.start()
        try d.emit(try String(contentsOf: Self.demo, encoding: .utf8))
        #expect(try d.stop() == 0)
        #expect(try d.sql("SELECT count(*) FROM events") == ["82"])
        // The demo is from March 2026: older than 30 days. On the next start the first tick prunes it.
        let again = try Daemon(dir: d.dir)
        try again.start()
        try waitUntil("the prune", timeout: 15) { (try? again.sql("SELECT count(*) FROM events")) == ["0"] }
        #expect(try again.stop() == 0)
        #expect(try Binary.run(["verify", "--db", again.database]).status == 0)
        #expect(try again.sql("SELECT count(*) FROM findings") != ["0"], "findings are kept")
    }

    /// An event stamped far ahead of the host's clock is refused
    /// (`future_timestamp`) and recorded with its bytes; it does not move
    /// event time, so a pending request's 4-hour deadline does not fire
    /// because of it. An event a minute ahead (inside `max_future_skew`) is
    /// accepted.
    @Test func eventsFarAheadOfTheClockAreRejectedAndDoNotMoveEventTime() throws {
        let d = try Daemon(configBody: "allowed_lateness: 1s\nmax_future_skew: 5m\n")
        try d.start()
        let fmt = ISO8601DateFormatter()
        let now = Date()
        let lines = [line(fmt.string(from: now), "request", "r-now", "alice"),
                     line(fmt.string(from: now.addingTimeInterval(400 * 86_400)), "approve", "r-far", "mallory"),
                     line(fmt.string(from: now.addingTimeInterval(60)), "approve", "r-soon", "bob")]
        let r = try d.emit(lines.joined(separator: "\n") + "\n", expectStatus: nil)
        #expect(r.status != 0, "emit reports the refused line")
        #expect((r.stdout + r.stderr).contains("future_timestamp") || (r.stdout + r.stderr).contains("ahead of this host's clock"),
                "\(r.stdout) \(r.stderr)")
        try waitUntil("two events and one rejection stored") {
            (try? d.sql("SELECT count(*) FROM events")) == ["2"] && (try? d.sql("SELECT count(*) FROM rejections")) == ["1"]
        }
        usleep(1_500_000)  // let event time flow past the accepted events
        #expect(try d.stop() == 0)
        #expect(try d.sql("SELECT request_id FROM events ORDER BY seq") == ["r-now", "r-soon"])
        let rejected = try d.sql("SELECT kind, instr(raw, 'r-far') > 0, raw_length = length(raw) FROM rejections")
        #expect(rejected == ["future_timestamp|1|1"])
        #expect(!d.findings.contains { $0.rule == "stale_request" }, "\(d.findings)")
    }

    /// A deadline reached by the wall clock (not by an event) fires, and the
    /// daemon is killed before any snapshot covers that: after the restart
    /// the engine raises the finding again, and it must not reach the sinks
    /// a second time (it is stored once); a new finding after the restart
    /// still does.
    @Test func aFindingRaisedAgainAfterARestartIsNotDeliveredTwice() throws {
        let dir = try temporaryDirectory()
        let rules = dir.appendingPathComponent("rules.yaml")
        try """
        rules:
          - id: quick_stale
            severity: low
            type: absence
            when: {event: request}
            expect: [approve]
            within: 2s
            summary: "request {request_id} got no approve within {within}"
        """.write(to: rules, atomically: true, encoding: .utf8)
        // No periodic snapshot (1 h): the state after the finding is never saved.
        try """
        database: \(dir.appendingPathComponent("jitaudit.db").path)
        sinks: {stdout: json, journal: false, syslog: false}
        status_interval: 1s
        snapshot_interval: 1h
        allowed_lateness: 1s
        rules: [\(rules.path)]
        sources:
          socket: {path: \(dir.appendingPathComponent("jitaudit.sock").path)}
        """.write(to: dir.appendingPathComponent("jitaudit.yaml"), atomically: true, encoding: .utf8)
        let fmt = ISO8601DateFormatter()
        let first = try Daemon(dir: dir)
        try first.start()
        try first.emit(line(fmt.string(from: Date()), "request", "r-before", "alice") + "\n")
        try waitUntil("the wall clock to reach the deadline", timeout: 20) { first.findings.contains { $0.requestID == "r-before" } }
        first.kill9()
        // The killed daemon left its socket file; wait for the new one's.
        try FileManager.default.removeItem(atPath: first.socket)

        let second = try Daemon(dir: dir)
        try second.start()
        // A new event moves event time past the old deadline again (a restart
        // does not know how far the wall clock had taken it).
        try second.emit(line(fmt.string(from: Date()), "request", "r-after", "bob") + "\n")
        try waitUntil("the new request's finding", timeout: 20) { second.findings.contains { $0.requestID == "r-after" } }
        #expect(try second.stop() == 0)
        #expect(!second.findings.contains { $0.requestID == "r-before" }, "delivered twice: \(second.findings)")
        #expect(try second.sql("SELECT request_id, count(*) FROM findings GROUP BY request_id ORDER BY request_id")
                == ["r-after|1", "r-before|1"])
    }

    /// kill -9 at random moments while a file is tailed, restart each time:
    /// the findings table ends equal to an uninterrupted replay's.
    @Test func killNineAndRestartGivesTheFindingsOfAnUninterruptedRun() throws {
        let dir = try temporaryDirectory()
        guard let (events, _) = try SharedGenerator.generate(["--events", "30000", "--anomaly-rate", "0.01", "--seed", "5"], into: dir) else {
            print("skipped: ../shared/tools/gen_events.py is not present next to this checkout")
            return
        }
        let live = dir.appendingPathComponent("live.jsonl")
        FileManager.default.createFile(atPath: live.path, contents: nil)
        let body = "allowed_lateness: 1s\nsources:\n  files: [\(live.path)]\n  socket: false\n"
        // The reference: the same file replayed in one go.
        let refDB = dir.appendingPathComponent("ref.db").path
        #expect(try Binary.run(["replay", "--quiet", "--db", refDB, events.path]).status == 0)
        let all = try Data(contentsOf: events)
        let lines = all.split(separator: 10, omittingEmptySubsequences: false)
        var written = 0
        let out = try FileHandle(forWritingTo: live)
        var rng = SystemRandomNumberGenerator()
        for round in 0..<8 {
            let d = try Daemon(dir: dir, configBody: round == 0 ? body : "")
            try d.start(waitForSocket: false)
            // Append a slice, let it be read partly, then kill.
            let upto = min(lines.count - 1, written + lines.count / 8 + 1)
            for l in lines[written..<upto] { out.write(Data(l) + Data([10])) }
            written = upto
            usleep(UInt32.random(in: 50_000...400_000, using: &rng))
            d.kill9()
        }
        for l in lines[written..<(lines.count - 1)] { out.write(Data(l) + Data([10])) }
        try out.close()
        let d = try Daemon(dir: dir)
        try d.start(waitForSocket: false)
        try waitUntil("every line in the audit log", timeout: 60) { (try? d.sql("SELECT count(*) FROM events")) == ["\(lines.count - 1)"] }
        usleep(2_500_000)  // event time flows past the last event
        #expect(try d.stop() == 0)
        let maxTs = try d.sql("SELECT max(ts) FROM events")[0]
        let q = "SELECT id FROM findings WHERE ts <= \(maxTs) ORDER BY id"
        let got = try d.sql(q)
        let ref = try Daemon.sqlOn(refDB, q)
        #expect(!ref.isEmpty)
        #expect(got == ref, "daemon \(got.count) vs replay \(ref.count) findings")
    }

    /// SIGTERM, SIGINT or SIGHUP while the daemon starts (opening the store,
    /// resuming), before its graceful-shutdown handlers exist: a stop is
    /// carried out gracefully once it runs (exit 0, the engine checkpointed),
    /// a reload does not end it. They used to end it by their default action.
    @Test func signalsWhileStartingDoNotKillTheDaemon() throws {
        for (signal, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            let d = try Daemon()
            try d.start(waitForSocket: false)
            try waitUntil("start-up under way") { d.stderr.contains("index file writer") }
            d.signal(signal)
            try waitUntil("\(name) to end it", timeout: 20) { !d.process.isRunning }
            #expect(d.process.terminationReason == .exit && d.process.terminationStatus == 0, "\(name): \(d.stderr.suffix(600))")
            #expect(d.stderr.contains("pipeline checkpointed"), "\(name): \(d.stderr.suffix(600))")
        }
        let d = try Daemon()
        try d.start(waitForSocket: false)
        try waitUntil("start-up under way") { d.stderr.contains("index file writer") }
        d.signal(SIGHUP)
        try waitUntil("the socket") { FileManager.default.fileExists(atPath: d.socket) }
        try d.emit(line("2026-03-02T10:00:00Z", "request", "r-after-hup", "alice") + "\n")
        #expect(try d.stop() == 0)
    }

    /// The daemon logs how its index file writer is scheduled: idle cores
    /// only as shipped; where a stricter seccomp filter denies
    /// `sched_setscheduler`, a warning naming what is lost, nice 10 instead,
    /// and findings as before.
    @Test func theDaemonSaysHowItsIndexWriterIsScheduled() throws {
        let plain = try Daemon()
        try plain.start()
        try waitUntil("the scheduling line") { plain.stderr.contains("index file writer") }
        // Running (an event through the socket), so SIGTERM finds the
        // graceful-shutdown handler: during start-up it still ends the
        // process by its default action (exit status 143), losing nothing.
        try plain.emit(line("2026-03-02T10:00:00Z", "request", "r-running", "alice") + "\n")
        #expect(try plain.stop() == 0)
        let idleLine = plain.stderr.split(separator: "\n").first { $0.contains("index file writer") } ?? ""
        #expect(idleLine.contains("info") && idleLine.contains("idle cores only (SCHED_IDLE)"), "\(plain.stderr)")

        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            print("skipped: the seccomp half needs \(python) (Tests/Scripts/deny-syscalls.py installs the filter)")
            return
        }
        let script = Binary.root.appendingPathComponent("Tests/Scripts/deny-syscalls.py").path
        let denied = try Daemon(configBody: "allowed_lateness: 2s\n", launcher: [python, script, "sched_setscheduler", "--"])
        try denied.start()
        try waitUntil("the scheduling warning") { denied.stderr.contains("index file writer") }
        let warning = denied.stderr.split(separator: "\n").first { $0.contains("index file writer") } ?? ""
        #expect(warning.contains("warning") && warning.contains("could not get SCHED_IDLE") && warning.contains("nice 10"),
                "\(denied.stderr)")
        // The fallback took: the thread runs at nice 10 under the normal policy (0).
        let found = try denied.scheduling(ofThreadsNamed: "jitaudit.index")
        #expect(found.count == 1 && found.allSatisfy { $0.nice == 10 && $0.policy == 0 }, "jitaudit.index threads: \(found)")
        try denied.emit(try String(contentsOf: Self.demo, encoding: .utf8))
        let want = try Self.expected("demo")
        try waitUntil("the demo's findings", timeout: 20) { denied.findings.count >= want.count }
        #expect(try denied.stop() == 0)
        #expect(denied.findings == want, "stderr: \(denied.stderr.suffix(2000))")
    }

    /// The index file deleted by hand while the daemon runs: within seconds
    /// the daemon says so and rebuilds it from the audit log; lookups and
    /// `verify` (which checks the lookup tables) hold afterwards.
    @Test func anIndexFileDeletedUnderTheDaemonIsRebuilt() throws {
        let d = try Daemon(configBody: "allowed_lateness: 2s\n")
        try d.start()
        try d.emit(try String(contentsOf: Self.demo, encoding: .utf8))
        try waitUntil("the demo in the audit log") { (try? d.sql("SELECT count(*) FROM events")) == ["82"] }
        let index = d.database + "-index"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: index + suffix) }
        try waitUntil("the daemon to notice", timeout: 20) { d.stderr.contains("was deleted while jitaudit was writing") }
        #expect(FileManager.default.fileExists(atPath: index))
        try d.emit(line("2026-03-02T15:00:00Z", "request", "req-after-rebuild", "zoe"))
        try waitUntil("the new event in the audit log") { (try? d.sql("SELECT count(*) FROM events")) == ["83"] }
        #expect(try d.stop() == 0)
        let lookup = try Binary.run(["events", "--db", d.database, "--request-id", "req-after-rebuild", "--format", "json"])
        #expect(lookup.status == 0 && lookup.stdout.contains("req-after-rebuild"), "\(lookup.stdout) \(lookup.stderr)")
        let verify = try Binary.run(["verify", "--db", d.database])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }

    /// SPEC §1: a line may end in `\r\n`, and the `\r` is not part of it. A
    /// line of exactly `line_limit` bytes is accepted with either ending, in
    /// `replay`, from a tailed file and from the socket; one byte more is
    /// `too_long` with either ending.
    @Test func aLineAtTheLimitIsAcceptedWithACarriageReturnToo() throws {
        let limit = 256
        func event(_ rid: String, bytes: Int) -> String {
            let head = #"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"\#(rid)","actor":"alice","justification":""#
            let line = head + String(repeating: "x", count: bytes - head.utf8.count - 2) + #""}"#
            precondition(line.utf8.count == bytes)
            return line
        }
        func batch(_ tag: String) -> String {
            event("\(tag)-crlf-at", bytes: limit) + "\r\n" + event("\(tag)-lf-at", bytes: limit) + "\n"
                + event("\(tag)-crlf-over", bytes: limit + 1) + "\r\n" + event("\(tag)-lf-over", bytes: limit + 1) + "\n"
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("c.yaml")
        try "line_limit: \(limit)\n".write(to: config, atomically: true, encoding: .utf8)
        let replay = try Binary.run(["replay", "--config", config.path, "--format", "json"], stdin: Data(batch("r").utf8))
        #expect(replay.stderr.contains("4 lines, 2 accepted, 2 rejected") && replay.stderr.contains("too_long 2"), "\(replay.stderr)")

        let tailed = dir.appendingPathComponent("events.jsonl")
        try batch("f").write(to: tailed, atomically: true, encoding: .utf8)
        let d = try Daemon(dir: dir, configBody: """
            line_limit: \(limit)
            sources:
              files: [\(tailed.path)]
              socket: {path: \(dir.appendingPathComponent("jitaudit.sock").path)}
            """)
        try d.start()
        defer { _ = try? d.stop() }
        let client = try RawClient(path: d.socket)
        #expect(client.send(batch("s")))
        client.shutdownWrite()
        _ = client.readAll(timeout: 10)
        try waitUntil("both sources' lines stored", timeout: 20) {
            (try? d.sql("SELECT count(*) FROM events")) == ["4"] && (try? d.sql("SELECT count(*) FROM rejections")) == ["4"]
        }
        #expect(try d.sql("SELECT request_id FROM events ORDER BY request_id") == ["f-crlf-at", "f-lf-at", "s-crlf-at", "s-lf-at"])
        #expect(try d.sql("SELECT DISTINCT kind FROM rejections") == ["too_long"])
        #expect(try d.stop() == 0)
    }


    /// The audit log's disk fills while a client sends. The client learns
    /// exactly how far it got (`stored=<n>`, and `emit` names the line to
    /// send again from); the daemon takes nothing more and stops, since its
    /// engine has seen events the log does not hold; restarted with room, it
    /// resumes from the log and the rest, sent again, is stored once.
    @Test(.enabled(if: geteuid() == 0, "mounting a small tmpfs needs root"))
    func aFullDiskStopsTheDaemonAndTheClientKnowsWhatToSendAgain() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        guard (try? Tools.run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", small.path]))?.status == 0 else {
            Issue.record("cannot mount a tmpfs at \(small.path)"); return
        }
        defer { _ = try? Tools.run("/usr/bin/umount", ["-l", small.path]) }
        let database = small.appendingPathComponent("j.db").path
        func events(_ range: Range<Int>) -> String {
            range.map { i in
                let ts = Timestamp(micros: 1_772_445_600_000_000 + Int64(i) * 1_000_000).rfc3339
                return #"{"ts":"\#(ts)","event":"request","request_id":"r\#(i)","actor":"u\#(i % 50)","justification":"\#(String(repeating: "j", count: 300))"}"#
            }.joined(separator: "\n") + "\n"
        }
        let first = try Daemon(dir: dir, arguments: ["--db", database])
        try first.start()
        try first.emit(events(0..<500))
        let refused = try first.emit(events(500..<8_000), expectStatus: 1)
        let reason = refused.stderr
        let stored = try #require(reason.split(separator: " ").compactMap { $0.hasPrefix("stored=") ? Int($0.dropFirst(7).prefix { $0.isNumber }) : nil }.first,
                                  "the refusal says how far it got: \(reason)")
        #expect(reason.contains("send again from stdin:\(stored + 1)"), "\(reason)")
        try waitUntil("the daemon to stop", timeout: 20) { !first.process.isRunning }
        #expect(first.process.terminationStatus != 0)
        #expect(first.stderr.contains("committing to the audit log failed; refusing all further input and stopping"), "\(first.stderr.suffix(1500))")
        #expect(try Daemon.sqlOn(database, "SELECT count(*) FROM events") == ["\(500 + stored)"])

        #expect((try? Tools.run("/usr/bin/mount", ["-o", "remount,size=64m", small.path]))?.status == 0)
        let second = try Daemon(dir: dir, arguments: ["--db", database])
        try second.start()
        try second.emit(events((500 + stored)..<8_000))
        #expect(try second.stop() == 0)
        #expect(try Daemon.sqlOn(database, "SELECT count(*), count(DISTINCT request_id) FROM events") == ["8000|8000"])
        #expect(try Binary.run(["verify", "--db", database]).status == 0)
    }

}

/// One JSON event line (the same shape the core tests use).
func line(_ ts: String, _ kind: String, _ rid: String, _ actor: String) -> String {
    "{\"ts\":\"\(ts)\",\"event\":\"\(kind)\",\"request_id\":\"\(rid)\",\"actor\":\"\(actor)\"}"
}
