import Foundation
import Testing

@Suite struct CheckCommandTests {
    @Test func defaultsAndShippedRulesAreValid() throws {
        let r = try Binary.run(["check"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("ok: 8 rules"))
        let file = try Binary.run(["check", "--rules", "rules/default.yaml"])
        #expect(file.status == 0, "\(file.stderr)")
        let folder = try Binary.run(["check", "--rules", "rules"])
        #expect(folder.status == 0, "\(folder.stderr)")
        let example = try Binary.run(["check", "--config", "systemd/jitaudit.yaml.example"])
        #expect(example.status == 0, "the shipped example configuration must be valid: \(example.stderr)")
    }

    @Test func brokenRulesExitTwoWithEveryLocatedProblem() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("broken.yaml")
        try """
        rules:
          - id: a
            severity: high
            type: mtach
          - id: b
            severity: high
            type: match
            when: {event: aprove}
        """.write(to: f, atomically: true, encoding: .utf8)
        let r = try Binary.run(["check", "--rules", f.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(f.path):4:11: error: rule a.type: unknown rule type \"mtach\", did you mean \"match\"?"))
        #expect(r.stderr.contains("\(f.path):8:19: error:"))
        #expect(r.stderr.contains("aprove"))
        let missing = try Binary.run(["check", "--rules", dir.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 2)
    }
}
