import Foundation
import Testing

/// Every fixture under fixtures/ gives exactly its expected findings through the real binary.
@Suite struct FixtureTests {
    @Test(arguments: ["demo", "bad-input"])
    func fixtureGivesExactlyItsExpectedFindings(_ name: String) throws {
        let r = try Binary.run(["replay", "--format", "json", "fixtures/\(name).jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        let got = FindingKey.parse(r.stdout)
        let want = FindingKey.parse(try String(contentsOf: Binary.root.appendingPathComponent("fixtures/\(name).expected.jsonl"), encoding: .utf8))
        #expect(!want.isEmpty)
        #expect(got == want, "missing: \(Set(want).subtracting(got).sorted()) unexpected: \(Set(got).subtracting(want).sorted())")
    }

    @Test func demoFiresEveryDefaultRule() throws {
        let want = FindingKey.parse(try String(contentsOf: Binary.root.appendingPathComponent("fixtures/demo.expected.jsonl"), encoding: .utf8))
        #expect(Set(want.map(\.rule)) == ["off_hours_burst", "unknown_source", "missing_justification", "self_approval",
                                          "rubber_stamp", "execute_without_approval", "stale_request", "repeat_offender"])
    }

    /// Each bad line is rejected with its kind at its line number; every good line is accepted.
    @Test func badInputRejectionsAreLocatedAndClassified() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("rejections.jsonl")
        let r = try Binary.run(["replay", "--format", "json", "--rejections", log.path, "fixtures/bad-input.jsonl"])
        #expect(r.status == 0)
        var got: [String] = []
        for l in try String(contentsOf: log, encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            got.append("\(o["line"]!) \(o["kind"]!)")
            #expect((o["reason"] as? String)?.isEmpty == false)
            #expect(o["source"] as? String == "fixtures/bad-input.jsonl")
        }
        let want = try String(contentsOf: Binary.root.appendingPathComponent("fixtures/bad-input.rejections.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(got == want)
        let total = try Data(contentsOf: Binary.root.appendingPathComponent("fixtures/bad-input.jsonl")).filter { $0 == 10 }.count
        #expect(r.stderr.contains("\(total) lines, \(total - want.count) accepted, \(want.count) rejected"))
    }
}
