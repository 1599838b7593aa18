import Foundation
import JITAuditCore
import Testing

/// Replays `fixtures/fuzz-regressions/rules/` with the `rules` fuzz target's
/// checks (Fuzz/Sources/FuzzRules), and pins the bugs it found.
@Suite struct FuzzRegressionTests {
    /// What the harness checks of every load: diagnostics with a code and a
    /// one-line message, located at line and column 1 or more; a rule set that
    /// loads runs over a little story and renders its findings safely.
    static func checkLoad(_ bytes: [UInt8], _ name: String) {
        let config: EngineConfig
        var configText = "", rulesText = String(decoding: bytes, as: UTF8.self)
        if let nul = bytes.firstIndex(of: 0) {
            configText = String(decoding: bytes[..<nul], as: UTF8.self)
            rulesText = String(decoding: bytes[(nul + 1)...], as: UTF8.self)
        } else if case .failure(let e) = ConfigLoader.load(rulesText, file: "fuzz-config.yaml") {
            checkDiagnostics(e, name)
        }
        switch ConfigLoader.load(configText, file: "fuzz-config.yaml") {
        case .success(let c): config = c
        case .failure(let e): checkDiagnostics(e, name); return
        }
        switch RuleLoader.load([("fuzz-rules.yaml", rulesText)], config: config) {
        case .failure(let e): checkDiagnostics(e, name)
        case .success(let set):
            var engine = Engine(rules: set, config: config)
            var findings: [Finding] = []
            for l in storyLines {
                engine.ingest(try! decode(l))
                findings += engine.takeFindings()
            }
            engine.finish()
            for f in findings + engine.takeFindings() {
                #expect(!FindingFormat.json(f).utf8.contains { $0 < 0x20 }, "\(name): \(FindingFormat.json(f))")
                #expect(!FindingFormat.text(f).unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) }, "\(name)")
            }
        }
    }

    static func checkDiagnostics(_ e: LoadError, _ name: String) {
        #expect(!e.diagnostics.isEmpty, "\(name): failed without diagnostics")
        for d in e.diagnostics {
            #expect(!d.code.isEmpty && !d.message.isEmpty, "\(name): \(d)")
            #expect(!d.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(name): \(d.description.debugDescription)")
            if let loc = d.location { #expect(loc.line >= 1 && loc.column >= 1, "\(name): \(d)") }
        }
    }

    /// The harness's story, shortened (Fuzz/Sources/FuzzRules/main.swift).
    static let storyLines = [
        #"{"ts":"2026-03-07T02:00:00Z","event":"request","request_id":"r1","actor":"Alice","action":"deploy","resource":"api","environment":"prod","priority":"high","justification":"n/a","source_ip":"10.0.0.1","device_id":"d1"}"#,
        #"{"ts":"2026-03-07T02:00:10Z","event":"approve","request_id":"r1","actor":" alice ","source_ip":"::ffff:10.0.0.1","device_id":"d2","expires_at":"2026-03-07T02:30:00Z"}"#,
        #"{"ts":"2026-03-07T02:05:00Z","event":"request","request_id":"r2","actor":"mallory\u001b[31m\nFAKE","priority":"critical","justification":"\u009b2J%n%s'; DROP TABLE findings;--","ticket":"T\r\n-1"}"#,
        #"{"ts":"2026-03-07T02:09:40Z","event":"approve","request_id":"r2","actor":"mallory\u001b[31m\nFAKE","source_ip":"2001:db8::1"}"#,
        #"{"ts":"2026-03-07T02:11:00Z","event":"revoke","request_id":"r2","actor":"bob"}"#,
        #"{"ts":"2026-03-07T02:12:00Z","event":"execute","request_id":"r2","actor":"mallory","requester":"mallory"}"#,
        #"{"ts":"2026-03-09T10:00:00Z","event":"execute","request_id":"r1","actor":"alice","outcome":"success"}"#,
    ]

    @Test func ruleRegressionsStayFixed() throws {
        let cases = try Corpus.regressions("rules")
        #expect(cases.count >= 2)
        for (name, bytes) in cases { Self.checkLoad(bytes, "fixtures/fuzz-regressions/rules/\(name)") }
    }

    /// Rule and config seeds of the fuzzer load as they are.
    @Test func fuzzSeedsLoad() throws {
        let seeds = Corpus.root.appendingPathComponent("Fuzz/seeds/rules")
        let config = try ConfigLoader.load(String(contentsOf: seeds.appendingPathComponent("config.yaml"), encoding: .utf8), file: "config.yaml").get()
        let set = try RuleLoader.load([("custom-rules.yaml", String(contentsOf: seeds.appendingPathComponent("custom-rules.yaml"), encoding: .utf8))], config: config).get()
        #expect(set.rules.count == 8)
        Self.checkLoad(Array(try String(contentsOf: seeds.appendingPathComponent("custom-rules.yaml"), encoding: .utf8).utf8), "custom-rules.yaml")
    }

    /// Found by the `rules` fuzz target: a YAML reader error (bad bytes) was
    /// reported at 1:1 with Yams's multi-line text quoting the raw line.
    @Test func yamlReaderErrorsAreLocatedOnOneLine() {
        let text = "rules:\n  - id: bell\n    severity: high # a bell \u{7} here\n"
        guard case .failure(let e) = RuleLoader.load([("r.yaml", text)], config: EngineConfig()) else { Issue.record("loaded"); return }
        let d = e.diagnostics.map(\.description)
        #expect(d == ["r.yaml:3:29: error: YAML: control characters are not allowed [yaml_syntax]"])
        let config = "timezone: UTC\nholidays: [\u{1B}[2J]\n"
        guard case .failure(let c) = ConfigLoader.load(config, file: "c.yaml") else { Issue.record("loaded"); return }
        #expect(c.diagnostics.map(\.description) == ["c.yaml:2:12: error: YAML: control characters are not allowed [yaml_syntax]"])
    }

    /// Found while writing the `rules` target's engine step: 65 absence rules
    /// loaded, then trapped the engine's precondition (at start or on SIGHUP).
    @Test func moreThan64AbsenceRulesAreALoadError() {
        func rules(_ n: Int) -> String {
            "rules:\n" + (0..<n).map { "  - {id: a\($0), severity: low, type: absence, when: {event: request}, expect: [approve], within: 1h}\n" }.joined()
        }
        #expect((try? RuleLoader.load([("r.yaml", rules(64))], config: EngineConfig()).get())?.rules.count == 64)
        guard case .failure(let e) = RuleLoader.load([("r.yaml", rules(65))], config: EngineConfig()) else { Issue.record("loaded"); return }
        #expect(e.diagnostics.map(\.description) == ["r.yaml:66:10: error: at most 64 rules of type absence, found 65 [too_many_rules]"])
    }

    /// Found by the `rules` target: a summary placeholder, and then a rule id,
    /// reached diagnostics raw, newlines and escape sequences included.
    @Test func userTextInRuleDiagnosticsIsEscaped() {
        let yaml = "rules:\n  - id: \"bad\\nid\\e[2J\"\n    severity: nope\n    type: match\n    summary: \"{x\\ny}\"\n"
        guard case .failure(let e) = RuleLoader.load([("r.yaml", yaml)], config: EngineConfig()) else { Issue.record("loaded"); return }
        let d = e.diagnostics.map(\.description)
        #expect(d.allSatisfy { !$0.unicodeScalars.contains { $0.value < 0x20 } }, "\(d)")
        #expect(d.contains { $0.contains(#"rule "bad\u{a}id\u{1b}[2J".severity: expected one of"#) }, "\(d)")
        #expect(d.contains { $0.contains(#"unknown placeholder "{x\u{a}y}""#) }, "\(d)")
    }

    @Test func duplicateKeysAreQuotedEscaped() {
        guard case .failure(let e) = RuleLoader.load([("r.yaml", "rules: []\n\"a\\nb\": 1\n\"a\\nb\": 2\n")], config: EngineConfig()) else { Issue.record("loaded"); return }
        let d = e.diagnostics.map(\.description)
        #expect(d.count == 1 && d[0].contains(#"duplicate key "a\u{a}b""#), "\(d)")
    }
}
