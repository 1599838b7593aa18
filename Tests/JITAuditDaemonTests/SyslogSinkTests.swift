import Foundation
import JITAuditCore
import JITAuditDaemon
import Testing

/// syslog(3) state (openlog, the /dev/log connection) is per process: these
/// tests run one at a time.
@Suite(.serialized) struct SyslogSinkTests {
    @Test(arguments: [("authpriv", Int32(10)), ("LOG_DAEMON", 3), ("local7", 23), ("user", 1)] as [(String, Int32)])
    func facilityNames(_ name: String, _ code: Int32) {
        #expect(SyslogFacility(name: name)?.code == code)
        #expect(SyslogFacility(name: name)?.value == code << 3)
    }

    @Test func unknownFacilityIsRejected() {
        #expect(SyslogFacility(name: "authpri") == nil)
        #expect(SyslogFacility.authpriv.name == "authpriv")
    }

    @Test func messageIsRuleAndEscapedSummary() {
        let f = SampleFindings.make(summary: "a\nb\u{1B}[0m %n")
        #expect(SyslogSink.message(for: f) == "self_approval: a\\x0ab\\x1b[0m %n")
    }

    @Test func missingDevLogIsAnError() async throws {
        if let reason = PrivateMountNamespace.skipReason { print("skipped: \(reason)"); return }
        let codes: [String] = try await PrivateMountNamespace.run {
            try PrivateMountNamespace.mountTmpfs("/dev")  // no /dev/log
            let sink = SyslogSink()
            defer { sink.close() }
            var out: [String] = []
            do { try sink.open() } catch let e as SinkError { out.append("open:\(e.code)") }
            do { try sink.emit(SampleFindings.make()) } catch let e as SinkError { out.append("emit:\(e.code)") }
            return out
        }
        #expect(codes == ["open:unavailable", "emit:unavailable"])
    }

    /// A real rsyslogd owns /dev/log (in a private mount namespace) and writes
    /// what it receives with the priority; hostile event text arrives escaped,
    /// on one line per finding, with the `%n` untouched.
    @Test func realRsyslogReceivesEscapedLinesWithPriority() async throws {
        if let reason = PrivateMountNamespace.skipReason { print("skipped: \(reason)"); return }
        guard let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("skipped: rsyslogd not installed (scripts/ensure-deps rsyslogd:rsyslog)"); return
        }
        let dir = try SinkTestKit.makeTempDir("jitaudit-rsyslog")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let critical = SampleFindings.make(actor: SampleFindings.hostile, summary: "approved own request: " + SampleFindings.hostile)
        let medium = SampleFindings.make(rule: "rubber_stamp", severity: .medium, actor: "bob", requestID: "req-2", n: 1)
        let info = SampleFindings.make(rule: "note", severity: .info, actor: "carol", n: 2)

        let lines: [String] = try await PrivateMountNamespace.run {
            try Rsyslog.withRsyslog(binary: rsyslogd, dir: dir) { log in
                let authpriv = SyslogSink()
                try authpriv.open()
                try authpriv.emit(critical)
                try authpriv.emit(medium)
                authpriv.close()
                let local3 = SyslogSink(facility: SyslogFacility(name: "local3")!)
                try local3.emit(info)
                local3.close()
                var got: [String] = []
                _ = SinkTestKit.eventually { got = log.lines(); return got.count >= 3 }
                usleep(100_000)  // a forged 4th line would show up by now
                return log.lines()
            }
        }
        #expect(lines.count == 3, "rsyslog got: \(lines)")
        guard lines.count == 3 else { return }
        // Template: PRI|tag|msg
        let fields = lines.map { $0.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false).map(String.init) }
        #expect(fields[0][0] == "82", "authpriv(10)*8 + LOG_CRIT(2)")
        #expect(fields[1][0] == "84", "authpriv(10)*8 + LOG_WARNING(4)")
        #expect(fields[2][0] == "158", "local3(19)*8 + LOG_INFO(6)")
        #expect(fields.allSatisfy { $0[1].hasPrefix("jitaudit[") })
        let msg = fields[0][2].trimmingCharacters(in: .whitespaces)
        #expect(msg == SyslogSink.message(for: critical))
        #expect(msg.contains("\\x0aFAKE_FIELD=1\\x0d\\x0a\\x1b[31mred"))
        #expect(msg.contains("%n%s%x MESSAGE=forged\\x7f\\x85\\\\end"))
        #expect(!lines.joined().contains("#0"), "rsyslog saw no raw control character (it would show #012, #033)")
        #expect(fields[1][2].trimmingCharacters(in: .whitespaces) == "rubber_stamp: " + medium.summary)
    }
}

/// rsyslogd in the calling thread's private mount namespace: a tmpfs on /dev
/// (with null, zero, urandom, random bound in from the host) where it creates
/// /dev/log, writing every message as `PRI|TAG|MSG` to a file.
struct Rsyslog {
    let out: String

    static func withRsyslog<T>(binary: String, dir: String, _ body: (Rsyslog) throws -> T) throws -> T {
        let hostDev = dir + "/hostdev"
        try FileManager.default.createDirectory(atPath: hostDev, withIntermediateDirectories: true)
        try PrivateMountNamespace.bind("/dev", hostDev, recursive: true)
        try PrivateMountNamespace.mountTmpfs("/dev")
        for node in ["null", "zero", "urandom", "random"] {
            FileManager.default.createFile(atPath: "/dev/" + node, contents: nil)
            try PrivateMountNamespace.bind(hostDev + "/" + node, "/dev/" + node)
        }
        let out = dir + "/messages"
        let conf = """
        global(workDirectory="\(dir)")
        module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
        template(name="probe" type="string" string="%pri%|%syslogtag%|%msg%\\n")
        *.* action(type="omfile" file="\(out)" template="probe")

        """
        try conf.write(toFile: dir + "/rsyslog.conf", atomically: true, encoding: .utf8)
        let child = try SpawnedChild.spawn([binary, "-n", "-f", dir + "/rsyslog.conf", "-i", dir + "/rsyslog.pid"], output: dir + "/rsyslogd.log")
        // rsyslogd takes ~2 s to shut down on SIGTERM (queue timeouts); what it
        // wrote is already on disk when the test reads it.
        defer { child.stop(SIGKILL) }
        guard SinkTestKit.eventually(timeout: .seconds(10), { SinkTestKit.isSocket("/dev/log") }) else {
            let log = (try? String(contentsOfFile: dir + "/rsyslogd.log", encoding: .utf8)) ?? ""
            throw SinkTestFailure("rsyslogd did not create /dev/log within 10 s: \(log)")
        }
        return try body(Rsyslog(out: out))
    }

    /// Lines rsyslog wrote so far, without rsyslog's own start-up messages.
    func lines() -> [String] {
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.contains("|jitaudit[") }
    }
}
