import Foundation
import Testing
import JITAuditCore

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

    /// `check --config` checks what `run --config` would load: the rules the
    /// file names (not the built-in ones), its socket's user and group names
    /// against this host, and reports the file's and the rules' problems
    /// together.
    @Test func checkLoadsWhatRunLoads() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = dir.appendingPathComponent("mine.yaml")
        try """
        rules:
          - id: night_secret_read
            severity: high
            type: match
            when: {event: approve, action: secret_read}
            summary: "{actor} approved a secret read"
        """.write(to: rules, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("jitaudit.yaml")
        try "rules: [\(rules.path)]\n".write(to: config, atomically: true, encoding: .utf8)
        let ok = try Binary.run(["check", "--config", config.path])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("ok: 1 rule from \(rules.path)") && ok.stdout.contains("night_secret_read"), "\(ok.stdout)")
        // The same rules in `replay --config`.
        let events = dir.appendingPathComponent("e.jsonl")
        try """
        {"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r1","actor":"alice","action":"secret_read"}
        {"ts":"2026-03-02T10:05:00Z","event":"approve","request_id":"r1","actor":"bob","action":"secret_read"}

        """.write(to: events, atomically: true, encoding: .utf8)
        let replay = try Binary.run(["replay", "--format", "json", "--quiet", "--config", config.path, events.path])
        #expect(replay.stdout.contains("\"rule\":\"night_secret_read\""), "\(replay.stdout)")

        // Broken rules named by the file, an unknown group and a bad zone: all reported, located.
        try """
        rules:
          - id: x
            severity: hihg
            type: match
            summary: "s"
        """.write(to: rules, atomically: true, encoding: .utf8)
        let socketLine = "  socket: {path: \(dir.path)/s.sock, allowed_gids: [no-such-group-here]}"
        let groupColumn = socketLine.distance(from: socketLine.startIndex, to: socketLine.range(of: "no-such")!.lowerBound) + 1
        try """
        timezone: Europe/Berln
        rules: [\(rules.path)]
        sources:
        \(socketLine)
        """.write(to: config, atomically: true, encoding: .utf8)
        let bad = try Binary.run(["check", "--config", config.path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("\(config.path):1:11: error: timezone: unknown IANA time zone"), "\(bad.stderr)")
        #expect(bad.stderr.contains("\(config.path):4:\(groupColumn): error: sources.socket.allowed_gids: no such group \"no-such-group-here\""), "\(bad.stderr)")
        #expect(bad.stderr.contains("\(rules.path):3:15: error: rule x.severity"), "\(bad.stderr)")
        // `run` refuses the same file the same way (exit 2), before opening anything.
        let run = try Binary.run(["run", "--config", config.path, "--db", dir.appendingPathComponent("j.db").path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("no such group \"no-such-group-here\""), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("j.db").path))
        // A configuration file named on the command line must exist.
        let missing = try Binary.run(["run", "--config", dir.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.yaml:1:1: error: no such configuration file"), "\(missing.stderr)")
    }

    /// Values that load but mean nothing useful are errors, located: a rule
    /// id no rule has (a misspelt `repeat_offender` input would silently
    /// count nothing), no rules at all, a trusted network with host bits set
    /// (it trusts the whole block), empty or inverted business hours, and a
    /// zero snapshot interval.
    @Test func meaninglessValuesAreLocatedErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shipped = try String(contentsOfFile: "rules/default.yaml", encoding: .utf8)
        let typo = dir.appendingPathComponent("typo.yaml")
        try shipped.replacingOccurrences(of: "rule: [self_approval,", with: "rule: [self_aproval,").write(to: typo, atomically: true, encoding: .utf8)
        let r = try Binary.run(["check", "--rules", typo.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("repeat_offender.when.rule: no rule has the id \"self_aproval\", did you mean \"self_approval\"?"), "\(r.stderr)")
        let empty = dir.appendingPathComponent("empty.yaml")
        try "rules: []\n".write(to: empty, atomically: true, encoding: .utf8)
        let none = try Binary.run(["check", "--rules", empty.path])
        #expect(none.status == 2 && none.stderr.contains("\(empty.path):1:1: error: the rule files define no enabled rule"), "\(none.stderr)")
        let config = dir.appendingPathComponent("c.yaml")
        try """
        trusted_networks: [10.1.2.3/8, 192.168.0.0/16]
        business_hours: {start: "18:00", end: "08:00", days: []}
        snapshot_interval: 0s
        """.write(to: config, atomically: true, encoding: .utf8)
        let c = try Binary.run(["check", "--config", config.path])
        #expect(c.status == 2)
        #expect(c.stderr.contains("\(config.path):1:20: error: trusted_networks: \"10.1.2.3/8\" has host bits set and would trust all of 10.0.0.0/8"), "\(c.stderr)")
        #expect(c.stderr.contains("business_hours.days: name at least one day"), "\(c.stderr)")
        #expect(c.stderr.contains("business_hours: start (18:00) must be before end (08:00)"), "\(c.stderr)")
        #expect(c.stderr.contains("snapshot_interval: expected a duration longer than zero"), "\(c.stderr)")
    }

    /// The shipped example says it lists every key with its default: every
    /// top-level key is in it, and what it sets is what the built-in
    /// defaults are (read back through the loader).
    @Test func theExampleConfigurationListsEveryKeyWithItsDefault() throws {
        let text = try String(contentsOfFile: "systemd/jitaudit.yaml.example", encoding: .utf8)
        let topLevel = Set(text.split(separator: "\n").compactMap { line -> String? in
            var l = Substring(line)
            if l.hasPrefix("# ") { l = l.dropFirst(2) }   // keys whose default is "unset" are shown commented out
            guard let colon = l.firstIndex(of: ":"), !l.hasPrefix(" ") else { return nil }
            return String(l[..<colon])
        })
        for key in ConfigLoader.engineKeys + DaemonSettingsLoader.keys {
            #expect(topLevel.contains(key), "systemd/jitaudit.yaml.example lacks \(key)")
        }
        let (config, settings) = try DaemonSettingsLoader.load(text, file: "example").get()
        let (defaults, defaultSettings) = (EngineConfig(), DaemonSettings())
        #expect(config.timezone == defaults.timezone && config.allowedLateness == defaults.allowedLateness)
        #expect(config.lineLimit == defaults.lineLimit && config.requestRetention == defaults.requestRetention)
        #expect(config.maxKeys == defaults.maxKeys && config.maxBaselineValues == defaults.maxBaselineValues)
        #expect(config.memoryLimit == defaults.memoryLimit && config.maxFutureSkew == defaults.maxFutureSkew)
        #expect(config.businessOpenMinute == defaults.businessOpenMinute && config.businessCloseMinute == defaults.businessCloseMinute)
        #expect(config.businessDays == defaults.businessDays)
        #expect(settings.snapshotInterval == defaultSettings.snapshotInterval && settings.statusInterval == defaultSettings.statusInterval)
        #expect(settings.pollInterval == defaultSettings.pollInterval && settings.rotateWait == defaultSettings.rotateWait)
        #expect(settings.globInterval == defaultSettings.globInterval && settings.maxBatchLines == defaultSettings.maxBatchLines)
        #expect(settings.socket.path == defaultSettings.socket.path && settings.socket.mode == defaultSettings.socket.mode)
        #expect(settings.socket.maxConnections == defaultSettings.socket.maxConnections)
        #expect(settings.socket.idleTimeout == defaultSettings.socket.idleTimeout)
        #expect(settings.socket.partialLineTimeout == defaultSettings.socket.partialLineTimeout)
        #expect(settings.socket.shutdownGrace == defaultSettings.socket.shutdownGrace)
        #expect(settings.sinks.stdout == defaultSettings.sinks.stdout && settings.sinks.journal == defaultSettings.sinks.journal)
        #expect(settings.sinks.syslog == defaultSettings.sinks.syslog && settings.sinks.queueCapacity == defaultSettings.sinks.queueCapacity)
    }
}
