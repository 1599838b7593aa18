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
