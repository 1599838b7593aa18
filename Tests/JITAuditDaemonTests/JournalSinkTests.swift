import Foundation
import JITAuditCore
import JITAuditDaemon
import Testing

@Suite struct JournalSinkTests {
    @Test func messageIDIsStablePerRuleAndShapedAsA128BitID() {
        let id = JournalSink.messageID(rule: "self_approval")
        #expect(id.count == 32)
        #expect(id.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(id == JournalSink.messageID(rule: "self_approval"))
        // Pinned: a MESSAGE_ID is an interface (journalctl MESSAGE_ID=..., catalogs).
        #expect(id == "9d186615e3ee89658293063a60a9cc1e")
        let all = ["off_hours_burst", "unknown_source", "missing_justification", "self_approval",
                   "rubber_stamp", "execute_without_approval", "stale_request", "repeat_offender"]
        #expect(Set(all.map { JournalSink.messageID(rule: $0) }).count == all.count)
    }

    @Test func fieldsCarryTheFindingAndEscapeOnlyTheMessage() {
        let f = SampleFindings.make(actor: SampleFindings.hostile, summary: "approved: " + SampleFindings.hostile)
        let fields = Dictionary(JournalSink().fields(for: f), uniquingKeysWith: { a, _ in a })
        #expect(fields["MESSAGE"] == LogText.escape("approved: " + SampleFindings.hostile))
        #expect(!fields["MESSAGE"]!.contains("\n") && !fields["MESSAGE"]!.contains("\u{1B}"))
        #expect(fields["PRIORITY"] == "2")
        #expect(fields["SYSLOG_IDENTIFIER"] == "jitaudit")
        #expect(fields["SYSLOG_FACILITY"] == "10")
        #expect(fields["JITAUDIT_ACTOR"] == SampleFindings.hostile)
        #expect(fields["JITAUDIT_RULE"] == "self_approval")
        #expect(fields["JITAUDIT_SEVERITY"] == "critical")
        #expect(fields["JITAUDIT_REQUEST_ID"] == "req-8812")
        #expect(fields["JITAUDIT_FINDING_ID"] == f.id)
        #expect(fields["JITAUDIT_TS"] == "2026-03-02T14:07:11.250Z")
        #expect(fields["JITAUDIT_EVIDENCE"] == "{\"request_ids\":[\"req-8812\"]}")
        let noRequest = Dictionary(JournalSink().fields(for: SampleFindings.make(requestID: nil)), uniquingKeysWith: { a, _ in a })
        #expect(noRequest["JITAUDIT_REQUEST_ID"] == nil)
    }

    @Test(arguments: [(Severity.critical, Int32(2)), (.high, 3), (.medium, 4), (.low, 5), (.info, 6)] as [(Severity, Int32)])
    func priorityFollowsSeverity(_ s: Severity, _ level: Int32) {
        #expect(s.syslogLevel == level)
    }

    /// With no journald socket, sd_journal_sendv "succeeds" and drops the entry;
    /// the sink must say so instead.
    @Test func missingJournalIsAnErrorNotASilentDrop() async throws {
        if let reason = PrivateMountNamespace.skipReason { print("skipped: \(reason)"); return }
        let r: [String] = try await PrivateMountNamespace.run {
            try PrivateMountNamespace.mountTmpfs("/run")  // no /run/systemd/journal/socket here
            let sink = JournalSink()
            var errors: [String] = []
            do { try sink.open() } catch let e as SinkError { errors.append("open:\(e.code)") }
            do { try sink.emit(SampleFindings.make()) } catch let e as SinkError { errors.append("emit:\(e.code)") }
            errors.append("available:\(JournalSink.isAvailable)")
            return errors
        }
        #expect(r == ["open:unavailable", "emit:unavailable", "available:false"])
    }

    /// The real systemd-journald, in a private mount namespace, receives the
    /// entries; journalctl reads them back and matches on JITAUDIT_RULE.
    @Test func realJournaldStoresStructuredEntries() async throws {
        if let reason = PrivateMountNamespace.skipReason { print("skipped: \(reason)"); return }
        guard FileManager.default.isExecutableFile(atPath: Journald.binary) else {
            print("skipped: \(Journald.binary) not installed (apt-get install systemd)"); return
        }
        let hostile = SampleFindings.make(rule: "self_approval", actor: SampleFindings.hostile,
                                          summary: "approved own request: " + SampleFindings.hostile)
        let other = SampleFindings.make(rule: "rubber_stamp", severity: .medium, actor: "bob", requestID: "req-2", n: 1)
        let entries: [[String: String]] = try await PrivateMountNamespace.run {
            try Journald.withJournald { journal in
                let sink = JournalSink()
                try sink.open()
                try sink.emit(hostile)
                try sink.emit(other)
                var got: [[String: String]] = []
                _ = try SinkTestKit.eventually { got = try journal.entries(["-t", "jitaudit"]); return got.count >= 2 }
                let selfApproval = try journal.entries(["-t", "jitaudit", "JITAUDIT_RULE=self_approval"])
                return got + [["_query": "self_approval", "_count": String(selfApproval.count)]]
            }
        }
        #expect(entries.count == 3, "journal entries: \(entries)")
        guard entries.count == 3 else { return }
        let (a, b) = (entries[0], entries[1])
        #expect(a["MESSAGE"] == LogText.escape(hostile.summary))
        #expect(a["PRIORITY"] == "2")
        #expect(a["SYSLOG_IDENTIFIER"] == "jitaudit")
        #expect(a["SYSLOG_FACILITY"] == "10")
        #expect(a["MESSAGE_ID"] == JournalSink.messageID(rule: "self_approval"))
        #expect(a["JITAUDIT_ACTOR"] == SampleFindings.hostile, "binary-safe: the actor arrives byte for byte")
        #expect(a["JITAUDIT_RULE"] == "self_approval")
        #expect(a["JITAUDIT_FINDING_ID"] == hostile.id)
        #expect(a["JITAUDIT_TS"] == "2026-03-02T14:07:11.250Z")
        #expect(a["JITAUDIT_EVIDENCE"] == "{\"request_ids\":[\"req-8812\"]}")
        #expect(a["FAKE_FIELD"] == nil, "text after a newline in a value must not become a field")
        #expect(b["MESSAGE"] == other.summary)
        #expect(b["PRIORITY"] == "4")
        #expect(b["JITAUDIT_RULE"] == "rubber_stamp")
        #expect(entries[2]["_count"] == "1", "journalctl JITAUDIT_RULE=self_approval finds exactly the one entry")
    }
}

/// systemd-journald in the calling thread's private mount namespace: tmpfs on
/// /run and /var/log/journal, so its sockets and files are the test's own.
struct Journald {
    static let binary = "/lib/systemd/systemd-journald"
    static let journalctl = "/usr/bin/journalctl"

    /// Starts journald, waits for its socket, runs `body`, stops journald.
    static func withJournald<T>(_ body: (Journald) throws -> T) throws -> T {
        try PrivateMountNamespace.mountTmpfs("/run")
        if FileManager.default.fileExists(atPath: "/var/log/journal") {
            try PrivateMountNamespace.mountTmpfs("/var/log/journal")
        }
        try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/run/log/journal", withIntermediateDirectories: true)
        let child = try SpawnedChild.spawn([binary])
        defer { child.stop() }
        guard SinkTestKit.eventually(timeout: .seconds(10), { SinkTestKit.isSocket(JournalSink.socketPath) }) else {
            throw SinkTestFailure("systemd-journald did not create \(JournalSink.socketPath) within 10 s")
        }
        return try body(Journald())
    }

    /// `journalctl -D /run/log/journal -o json ARGS`, decoded; binary fields
    /// (arrays of bytes in journalctl's JSON) become strings.
    func entries(_ args: [String]) throws -> [[String: String]] {
        let (status, out) = try SpawnedChild.run([Journald.journalctl, "-D", "/run/log/journal", "-o", "json", "--no-pager"] + args)
        // journalctl exits 1 with "-- No entries --" before anything is written.
        guard status == 0 || out.contains("No entries") else { throw SinkTestFailure("journalctl exited \(status): \(out)") }
        return out.split(separator: "\n").compactMap { line -> [String: String]? in
            guard line.hasPrefix("{"),
                  let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            var e: [String: String] = [:]
            for (k, v) in obj {
                if let s = v as? String { e[k] = s } else if let bytes = v as? [Int] {
                    e[k] = String(decoding: bytes.map { UInt8($0) }, as: UTF8.self)
                }
            }
            return e
        }
    }
}
