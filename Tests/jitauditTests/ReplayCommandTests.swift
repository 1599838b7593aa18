import Foundation
import Testing

@Suite struct ReplayCommandTests {
    /// The generated stream of the engine issue, and other seeds: every expected
    /// finding (rule, actor, request id, ts) and nothing else.
    @Test(arguments: [
        ["--events", "200000", "--anomaly-rate", "0.002", "--jitter", "30"],
        ["--events", "150000", "--anomaly-rate", "0.004", "--jitter", "45", "--seed", "7"],
        ["--events", "100000", "--anomaly-rate", "0.01", "--seed", "11", "--requesters", "300", "--approvers", "40", "--days", "20"],
    ])
    func generatedStreamGivesExactlyTheExpectedFindings(_ args: [String]) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let (events, expected) = try SharedGenerator.generate(args, into: dir) else {
            print("skipped: ../shared/tools/gen_events.py is not present next to this checkout")
            return
        }
        let r = try Binary.run(["replay", "--format", "json", events.path])
        #expect(r.status == 0, "\(r.stderr)")
        let got = FindingKey.parse(r.stdout)
        let want = FindingKey.parse(try String(contentsOf: expected, encoding: .utf8))
        #expect(!want.isEmpty)
        let missing = Set(want).subtracting(got).sorted(), extra = Set(got).subtracting(want).sorted()
        #expect(missing.isEmpty, "missing: \(missing.prefix(10))")
        #expect(extra.isEmpty, "unexpected: \(extra.prefix(10))")
        #expect(got.count == want.count)
    }

    @Test func findingIDsAreStableAcrossRuns() throws {
        let a = try Binary.run(["replay", "--format", "json", "fixtures/demo.jsonl"])
        let b = try Binary.run(["replay", "--format", "json", "--quiet", "-"], stdin: try Data(contentsOf: Binary.root.appendingPathComponent("fixtures/demo.jsonl")))
        #expect(a.status == 0 && b.status == 0)
        #expect(!a.stdout.isEmpty)
        #expect(a.stdout == b.stdout)
    }

    @Test func summaryOnStderr() throws {
        let r = try Binary.run(["replay", "--format", "json", "fixtures/bad-input.jsonl"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("jitaudit replay: "))
        #expect(r.stderr.contains(" rejected"))
        #expect(r.stderr.contains("rejected by reason: "))
        #expect(r.stderr.contains("fixtures/bad-input.jsonl:"))
        #expect(r.stderr.contains("events/s"))
        #expect(r.stderr.contains("findings by rule: "))
    }

    @Test func textFormatIsOneEscapedLinePerFinding() throws {
        let evil = #"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r1\n\u001b[31mFAKE","actor":"alice","action":"deploy\r\nroot"}"# + "\n"
            + #"{"ts":"2026-03-02T10:05:00Z","event":"approve","request_id":"r1\n\u001b[31mFAKE","actor":"alice"}"# + "\n"
        let r = try Binary.run(["replay", "--format", "text", "--quiet"], stdin: Data(evil.utf8))
        #expect(r.status == 0)
        #expect(r.lines.count == 1, "\(r.stdout)")
        #expect(r.stdout.contains("CRITICAL self_approval"))
        #expect(!r.stdout.contains("\u{1b}"))
        #expect(r.stdout.contains("\\x0a") && r.stdout.contains("\\x1b"))
    }

    @Test func exitCodes() throws {
        let missing = try Binary.run(["replay", "/nonexistent/events.jsonl"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/events.jsonl"))
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml")
        try "allowed_lateness: soon\n".write(to: bad, atomically: true, encoding: .utf8)
        let usage = try Binary.run(["replay", "--config", bad.path, "fixtures/demo.jsonl"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("\(bad.path):1:19: error: allowed_lateness"))
        #expect(try Binary.run(["replay", "--format", "xml"]).status == 2)
    }

    @Test func configChangesTheCalendarAndLineLimit() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = dir.appendingPathComponent("c.yaml")
        try "line_limit: 300\n".write(to: cfg, atomically: true, encoding: .utf8)
        let events = #"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r1","actor":"a","justification":""# + String(repeating: "x", count: 400) + "\"}\n"
            + #"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r2","actor":"a"}"# + "\n"
        let r = try Binary.run(["replay", "--config", cfg.path, "--format", "json"], stdin: Data(events.utf8))
        #expect(r.status == 0)
        #expect(r.stderr.contains("2 lines, 1 accepted, 1 rejected"))
        #expect(r.stderr.contains("too_long 1"))
    }
}
