import Foundation
import JITAuditCore
import Testing

@Suite struct RuleLoaderTests {
    func load(_ yaml: String, config: EngineConfig = EngineConfig()) -> Result<RuleSet, LoadError> {
        RuleLoader.load([("custom.yaml", yaml)], config: config)
    }

    @Test func defaultRulesLoad() throws {
        let set = try RuleSet.defaults(config: EngineConfig())
        #expect(set.rules.map(\.id) == ["off_hours_burst", "unknown_source", "missing_justification", "self_approval",
                                        "rubber_stamp", "execute_without_approval", "stale_request", "repeat_offender"])
        #expect(set.rules.map(\.severity) == [.high, .high, .high, .critical, .medium, .critical, .medium, .high])
    }

    @Test func embeddedDefaultsMatchTheRulesFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("rules/default.yaml"), encoding: .utf8)
        #expect(file == DefaultRules.yaml + "\n", "run scripts/embed-default-rules after editing rules/default.yaml")
    }

    @Test func everyProblemIsReportedWithItsLocation() throws {
        let yaml = """
        rules:
          - id: one
            severity: severe
            type: match
            when:
              evnt: approve
          - id: two
            severity: high
            type: threshold
            when: {event: request}
            group_by: requester
            window: 60 minutes
            count: 0
          - id: one
            severity: low
            type: match
            when: {priority: urgent}
        """
        guard case .failure(let e) = load(yaml) else { Issue.record("loaded"); return }
        let lines = e.diagnostics.map(\.description)
        #expect(lines.contains { $0.hasPrefix("custom.yaml:3:15: error: rule one.severity: expected one of") })
        #expect(lines.contains { $0.hasPrefix("custom.yaml:6:7: error: rule one.when: unknown field \"evnt\", did you mean \"event\"?") })
        #expect(lines.contains { $0.hasPrefix("custom.yaml:12:13: error: rule two.window: expected a duration") })
        #expect(lines.contains { $0.hasPrefix("custom.yaml:13:12: error: rule two.count: expected a whole number from 1") })
        #expect(lines.contains { $0.contains("custom.yaml:17:") && $0.contains("\"urgent\" is not one of low, normal, high, critical") })
        #expect(lines.contains { $0.hasPrefix("custom.yaml:14:9: error: rule id \"one\" is already defined at custom.yaml:2:9") })
    }

    @Test func yamlSyntaxErrorsAreLocated() {
        guard case .failure(let e) = load("rules:\n  - id: x\n   severity: [high\n") else { Issue.record("loaded"); return }
        #expect(e.diagnostics.first?.location?.file == "custom.yaml")
        #expect((e.diagnostics.first?.location?.line ?? 0) >= 2)
    }

    /// A key written twice is located where it is written again (the
    /// mistake), naming the first; in a flow mapping, at the mapping.
    @Test func aDuplicateKeyIsLocatedAtItsRepeat() {
        let yaml = "rules:\n  - id: a\n    severity: high\n    type: match\n    when:\n      event: approve\n      # a comment\n\n      event: reject\n    summary: x\n"
        guard case .failure(let e) = load(yaml) else { Issue.record("loaded"); return }
        #expect(e.description == "custom.yaml:9:7: error: YAML: duplicate key \"event\" in mapping (first at line 6) [yaml_syntax]", "\(e)")
        guard case .failure(let top) = ConfigLoader.load("timezone: UTC\nholidays: []\ntimezone: Europe/Berlin\n", file: "c.yaml") else {
            Issue.record("loaded"); return
        }
        #expect(top.description.hasPrefix("c.yaml:3:1: error: YAML: duplicate key \"timezone\" in mapping (first at line 1)"), "\(top)")
        guard case .failure(let flow) = ConfigLoader.load("business_hours: {start: \"08:00\", start: \"09:00\"}\n", file: "c.yaml") else {
            Issue.record("loaded"); return
        }
        #expect(flow.description.hasPrefix("c.yaml:1:18: error: YAML: duplicate key \"start\""), "\(flow)")
    }

    /// Every key of a `time:` condition is checked, not only the first bad one.
    @Test func everyProblemOfATimeConditionIsReported() {
        let yaml = "rules:\n  - id: a\n    severity: high\n    type: match\n    when:\n      time: {between: [\"25:00\", \"06:00\"], timezone: Mars/Olympus, days: [funday]}\n    summary: x\n"
        guard case .failure(let e) = load(yaml) else { Issue.record("loaded"); return }
        #expect(e.diagnostics.map(\.code) == ["bad_time", "bad_timezone", "bad_weekday"], "\(e)")
        #expect(e.diagnostics.map { $0.location?.column ?? 0 } == [23, 53, 73])
    }

    @Test func configErrorsAreLocated() {
        let text = "timezone: Mars/Olympus\nholidays: [2026-02-30]\ntrusted_networks: [10.0.0.0/33]\nallowed_lateness: soon\nlinelimit: 5\n"
        guard case .failure(let e) = ConfigLoader.load(text, file: "jitaudit.yaml") else { Issue.record("loaded"); return }
        let d = e.diagnostics.map(\.description)
        #expect(d.contains { $0.hasPrefix("jitaudit.yaml:1:11: error: timezone: unknown IANA time zone") })
        #expect(d.contains { $0.hasPrefix("jitaudit.yaml:2:12: error: holidays:") })
        #expect(d.contains { $0.hasPrefix("jitaudit.yaml:3:20: error: trusted_networks:") })
        #expect(d.contains { $0.hasPrefix("jitaudit.yaml:4:19: error: allowed_lateness:") })
        #expect(d.contains { $0.hasPrefix("jitaudit.yaml:5:1: error: configuration: unknown key \"linelimit\", did you mean \"line_limit\"?") })
    }

    /// `max_future_skew`: 10 minutes by default, a duration, or `off`; anything else is a located error.
    @Test func maxFutureSkewParses() throws {
        #expect(EngineConfig().maxFutureSkew == .minutes(10))
        #expect(try ConfigLoader.load("max_future_skew: 90s\n", file: "c.yaml").get().maxFutureSkew == .seconds(90))
        #expect(try ConfigLoader.load("max_future_skew: off\n", file: "c.yaml").get().maxFutureSkew == nil)
        #expect(try ConfigLoader.load("max_future_skew: 0s\n", file: "c.yaml").get().maxFutureSkew == nil)
        guard case .failure(let e) = ConfigLoader.load("max_future_skew: later\n", file: "c.yaml") else { Issue.record("loaded"); return }
        #expect(e.diagnostics.map(\.description).contains { $0.hasPrefix("c.yaml:1:18: error: max_future_skew: expected a duration") })
    }

    /// `max_baseline_values`: 4096 by default, at least 16; less is a located error.
    @Test func maxBaselineValuesParses() throws {
        #expect(EngineConfig().maxBaselineValues == 4096)
        #expect(try ConfigLoader.load("max_baseline_values: 64\n", file: "c.yaml").get().maxBaselineValues == 64)
        guard case .failure(let e) = ConfigLoader.load("max_baseline_values: 8\n", file: "c.yaml") else { Issue.record("loaded"); return }
        #expect(e.diagnostics.map(\.description).contains { $0.hasPrefix("c.yaml:1:22: error: max_baseline_values:") }, "\(e.diagnostics)")
    }

    /// The README's custom rule: any approve of a secret_read in prod between 00:00 and 06:00 Berlin time.
    @Test func customNightSecretReadRule() throws {
        let yaml = """
        rules:
          - id: night_secret_read
            severity: high
            type: match
            when:
              event: approve
              request.action: secret_read
              request.environment: prod
              time: {between: ["00:00", "06:00"], timezone: Europe/Berlin}
            summary: "{actor} approved a prod secret read at night ({request_id})"
        """
        func story(_ approveAt: String) -> [String] {
            [line("2026-07-01T20:00:00Z", "request", "r1", "alice", ["action": "secret_read", "environment": "prod"]),
             line(approveAt, "approve", "r1", "bob")]
        }
        // Berlin is UTC+2 in July: 22:30Z is 00:30 local, 04:00Z is 06:00 local.
        let hit = try run(story("2026-07-01T22:30:00Z"), rules: yaml)
        #expect(hit.map(\.rule) == ["night_secret_read"])
        #expect(hit.first?.summary == "bob approved a prod secret read at night (r1)")
        #expect(try run(story("2026-07-02T04:00:00Z"), rules: yaml).isEmpty)
        #expect(try run(story("2026-07-02T03:59:59Z"), rules: yaml).count == 1)
        #expect(try run(story("2026-07-01T21:59:59Z"), rules: yaml).isEmpty)
    }

    @Test func globsAndNegation() throws {
        let yaml = """
        rules:
          - id: prod_db_by_contractor
            severity: medium
            type: match
            when:
              event: request
              resource: {glob: "pg/*"}
              actor: {glob: ["ext-*", "contractor-*"], ignore_case: true}
              not: {ticket: {exists: true}}
        """
        let fs = try run([
            line("2026-03-02T10:00:00Z", "request", "r1", "EXT-joe", ["resource": "pg/orders"]),
            line("2026-03-02T10:00:00Z", "request", "r2", "ext-ann", ["resource": "pg/orders", "ticket": "T-1"]),
            line("2026-03-02T10:00:00Z", "request", "r3", "ext-bo", ["resource": "k8s/orders"]),
            line("2026-03-02T10:00:00Z", "request", "r4", "dan", ["resource": "pg/orders"]),
        ], rules: yaml)
        #expect(fs.map(\.requestID) == ["r1"])
    }

    @Test func globMatchingIsLinear() {
        let g = GlobPattern(String(repeating: "*a", count: 30) + "b")
        let text = String(repeating: "a", count: 10_000)
        let clock = ContinuousClock()
        let took = clock.measure { #expect(!g.matches(text)) }
        #expect(took < .seconds(5))
    }
}
