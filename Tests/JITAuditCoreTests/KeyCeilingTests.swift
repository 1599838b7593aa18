@testable import JITAuditCore
import Testing

@Suite struct KeyCeilingTests {
    /// Many distinct people in a short time: tables stay at the ceiling, evictions are
    /// counted, and a `state_evicted` finding appears once per hour of event time.
    @Test func tablesStayUnderTheCeilingAndEvictionIsVisible() throws {
        let config = try ConfigLoader.load("max_keys: 1000", file: "c").get()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        var t = RFC3339.parse("2026-03-02T09:00:00Z")!
        var evictionFindings: [Finding] = []
        for i in 0..<20_000 {  // one event every 0.5 s: about 2.8 hours
            engine.ingest(try decode(line(t.rfc3339, "request", "r\(i)", "requester\(i)", ["source_ip": "10.0.\(i % 250).1"])))
            evictionFindings += engine.takeFindings().filter { $0.rule == "state_evicted" }
            t = t + TimeSpan(micros: 500_000)
            let s = engine.state
            // Checked every 256 events, so a table can pass the ceiling by at most that.
            #expect(s.requests.count <= 1000 + 256)
            for (_, r) in s.rules { #expect(r.baselines.count <= 1000 + 256 && r.windows.count <= 1000 + 256) }
            if s.requests.count > 1000 + 256 { break }
        }
        #expect(engine.stats.evicted > 18_000)
        #expect(evictionFindings.count == 3, "\(evictionFindings.map(\.ts))")
        #expect(evictionFindings.allSatisfy { $0.severity == .medium && $0.actor == "jitaudit" })
        let gaps = zip(evictionFindings.dropFirst(), evictionFindings).map { $0.ts - $1.ts }
        #expect(gaps.allSatisfy { $0 >= .hours(1) })
    }

    /// One actor approving from an ever new device: its baseline learns at
    /// most `max_baseline_values` values (the memory estimate counts them)
    /// and keeps those it learned first, every new device still gives its
    /// `unknown_source` finding, and what was not learned is counted and
    /// reported in a `state_evicted` finding.
    static func deviceFlood(_ engine: inout Engine, from: Int, to: Int) throws -> [Finding] {
        let t0 = RFC3339.parse("2026-03-02T09:00:00Z")!
        var found: [Finding] = []
        if from == 0 {
            engine.ingest(try decode(line(t0.rfc3339, "request", "start", "alice")))
        }
        for i in from..<to {
            // After the 7-day learning period, one approve a second.
            let t = t0 + .hours(24 * 8) + TimeSpan(micros: Int64(i) * 1_000_000)
            engine.ingest(try decode(line(t.rfc3339, "approve", "r\(i)", "mallory", ["source_ip": "10.0.0.1", "device_id": "dev-\(i)"])))
            found += engine.takeFindings()
        }
        return found
    }

    @Test func oneActorFromEverNewDevicesKeepsAtMostMaxBaselineValues() throws {
        let config = try ConfigLoader.load("max_baseline_values: 16", file: "c").get()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        var found = try Self.deviceFlood(&engine, from: 0, to: 10)
        let before = engine.estimatedStateBytes
        found += try Self.deviceFlood(&engine, from: 10, to: 100)
        engine.finish()
        found += engine.takeFindings()
        let values = try #require(engine.state.rules["unknown_source"]?.baselines["mallory"]?.values)
        #expect(values.count == 16)
        // Learned first and kept: the address, and devices 0 to 14.
        #expect(values.contains(.ip(IPAddress("10.0.0.1")!)) && values.contains(.text(field: "device_id", value: "dev-0"))
                && values.contains(.text(field: "device_id", value: "dev-14")))
        let unknown = found.filter { $0.rule == "unknown_source" }
        #expect(unknown.count == 100, "each new device is new")
        #expect(unknown.filter { $0.summary.contains("source_ip") }.count == 1, "the address is new once, then stays known")
        let notices = found.filter { $0.rule == "state_evicted" }
        #expect(notices.count == 1, "one per hour of event time")
        #expect(notices.first?.summary.contains("values of mallory not learned") == true
                && notices.first?.summary.contains("max_baseline_values 16") == true, "\(notices.map(\.summary))")
        #expect(engine.stats.evicted == 85, "devices 15 to 99")
        #expect(engine.estimatedStateBytes >= before + 6 * 100, "values count in the memory estimate")
    }

    /// An engine resumed from a snapshot at the value ceiling learns, and
    /// finds, what an uninterrupted one does.
    @Test func theValueCeilingIsTheSameAfterAResume() throws {
        let config = try ConfigLoader.load("max_baseline_values: 16", file: "c").get()
        let rules = try RuleSet.defaults(config: config)
        var whole = Engine(rules: rules, config: config)
        var expected = try Self.deviceFlood(&whole, from: 0, to: 60)
        expected += try Self.deviceFlood(&whole, from: 60, to: 120)
        var first = Engine(rules: rules, config: config)
        var got = try Self.deviceFlood(&first, from: 0, to: 60)
        let bytes = first.state.binaryEncoded()
        let restored = try bytes.withUnsafeBytes { raw in try EngineState(binary: raw) }
        var resumed = Engine(rules: rules, config: config, state: restored)
        got += try Self.deviceFlood(&resumed, from: 60, to: 120)
        #expect(got.map(\.id) == expected.map(\.id))
        let a = whole.state.rules["unknown_source"]?.baselines["mallory"]?.values
        let b = resumed.state.rules["unknown_source"]?.baselines["mallory"]?.values
        #expect(a != nil && a == b)
        #expect(resumed.estimatedStateBytes == whole.estimatedStateBytes)
    }

    /// A state that lives at its memory budget is trimmed a sixty-fourth of
    /// the shards per check (bounded work each time, not a select over
    /// whole tables), oldest first within each shard, and stays near the
    /// budget; the eviction is counted and reported.
    @Test func aStateAtItsBudgetIsTrimmedASliceAtATime() throws {
        let config = try ConfigLoader.load("memory_limit: 64MiB", file: "c").get()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        let budget = config.stateMemoryBudget
        let t0 = RFC3339.parse("2026-03-02T09:00:00Z")!
        var notices = 0, checksWithEviction = 0, largestStep = 0
        var lastEvicted = 0
        let pad = String(repeating: "x", count: 1000)
        for i in 0..<80_000 {
            // A request every 8th event (the others approve it), one event a
            // second: all within request_retention, a little past the budget.
            let t = t0 + TimeSpan(micros: Int64(i) * 1_000_000)
            let rid = "req-\(i / 8)"
            if i % 8 == 0 {
                engine.ingest(try decode(line(t.rfc3339, "request", rid, "u\(i % 50)", ["justification": pad])))
            } else {
                engine.ingest(try decode(line(t.rfc3339, "approve", rid, "a\(i % 7)")))
            }
            notices += engine.takeFindings().filter { $0.rule == "state_evicted" }.count
            let step = engine.stats.evicted - lastEvicted
            if step > 0 { checksWithEviction += 1; largestStep = max(largestStep, step) }
            lastEvicted = engine.stats.evicted
            #expect(engine.estimatedStateBytes <= budget + budget / 8 + 256 * 2000, "event \(i): \(engine.estimatedStateBytes) of \(budget)")
        }
        #expect(engine.stats.evicted > 0 && notices >= 1)
        // Each check removes from one slice of the shards: a small part of the table.
        #expect(checksWithEviction > 10)
        #expect(largestStep < engine.state.requests.count / 20, "at most \(largestStep) keys at one check")
        // Within a slice the oldest go: the newest requests are all still known.
        let s = engine.state
        #expect((9_900..<10_000).allSatisfy { s.requests["req-\($0)"] != nil })
    }

    @Test func evictsTheLeastRecentlyActive() {
        var table = ShardedTable<Timestamp>()
        for i in 0..<100 { table["k\(i)"] = Timestamp(micros: Int64(i)) }
        #expect(Engine.evictOldest(&table, keep: 90) { $0 } == 10)
        #expect(table.count == 90)
        #expect(table["k9"] == nil && table["k10"] != nil)
    }
}

@Suite struct ReorderBufferCeilingTests {
    /// A flood of events stamped with one time cannot pile up in the reorder
    /// buffer past the memory budget: the oldest are processed early, counted,
    /// and a `state_evicted` finding says so.
    @Test func aFloodAtOneTimestampIsReleasedEarlyAndCounted() throws {
        let config = try ConfigLoader.load("memory_limit: 64MiB", file: "c").get()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        let pad = String(repeating: "x", count: 2000)
        var notices = 0
        for i in 0..<20_000 {
            engine.ingest(try decode(line("2026-03-02T10:00:00Z", "request", "r\(i)", "u\(i % 100)", ["justification": pad])))
            notices += engine.takeFindings().filter { $0.rule == "state_evicted" }.count
        }
        let s = engine.state
        #expect(s.reorder.count * (600 + s.meanRequestLine) <= config.stateMemoryBudget / 2 + 256 * (600 + s.meanRequestLine))
        #expect(engine.stats.releasedEarly > 0)
        #expect(notices >= 1)
    }
}
