import Testing
@testable import JITAuditCore

/// Forgetting requests and windows past their retention, a shard at a time.
@Suite("Sweeping state")
struct SweepTests {
    private func engine(_ config: String = "request_retention: 24h") throws -> Engine {
        let cfg = try ConfigLoader.load(config, file: "c.yaml").get()
        return Engine(rules: try RuleSet.defaults(config: cfg), config: cfg)
    }

    private func at(_ base: Timestamp, minutes: Double) -> String {
        Timestamp(micros: base.micros + Int64(minutes * 60_000_000)).rfc3339
    }

    /// A watermark step that passes one phase sweeps a 64th of the shards:
    /// the others are not even copied (a sweep used to walk every request at once).
    @Test func oneSweepStepWalksOneShard() throws {
        var e = try engine()
        let t0 = try decode(line("2026-03-02T00:00:00Z", "request", "x", "x")).ts
        for i in 0..<6_400 {
            e.ingest(try decode(line(at(t0, minutes: Double(i) / 640), "request", "req-\(i)", "u\(i % 50)")))
        }
        #expect(e.state.requests.count == 6_400)
        // The watermark moves a minute at a time (a phase is 11.25 min: 12 h
        // of sweep interval over 64 phases), so no step passes two phases.
        var w = t0
        var before = e.state, swept = before
        while w < Timestamp(micros: t0.micros + TimeSpan.hours(40).micros) {
            w = Timestamp(micros: w.micros + 60_000_000)
            before = e.state
            e.advance(to: w)
            swept = e.state
            if swept.requests.count < before.requests.count { break }
        }
        // Not before the retention (24 h after the last request, plus the lateness).
        #expect(w >= Timestamp(micros: t0.micros + TimeSpan.hours(24).micros + 10 * 60_000_000))
        let gone = before.requests.count - swept.requests.count
        #expect(gone > 0 && gone <= 3 * 6_400 / 64, "\(gone) requests swept in one step")
        let shards = ShardedTable<RequestRecord>.shardCount
        #expect(swept.requests.sharedShards(with: before.requests) >= shards - shards / Engine.sweepPhases)
        // Half an interval later every shard has had its turn.
        e.advance(to: Timestamp(micros: w.micros + TimeSpan.hours(12).micros))
        #expect(e.state.requests.count == 0)
    }

    /// A request is remembered at least `request_retention` after its last
    /// event and forgotten within one sweep interval (12 h) more.
    @Test func retentionBounds() throws {
        let base = [line("2026-03-02T10:00:00Z", "request", "r1", "alice", ["priority": "low"]),
                    line("2026-03-02T10:05:00Z", "approve", "r1", "bob")]
        func verdict(executeAfterHours h: Double) throws -> Int {
            let t = Timestamp(micros: try decode(line("2026-03-02T10:05:00Z", "request", "x", "x")).ts.micros + Int64(h * 3_600_000_000))
            // Other traffic moves the watermark up to the execute.
            var lines = base
            var filler = try decode(line("2026-03-02T10:06:00Z", "request", "x", "x")).ts
            var n = 0
            while filler < t {
                lines.append(line(filler.rfc3339, "request", "f\(n)", "carol", ["priority": "low"]))
                lines.append(line(Timestamp(micros: filler.micros + 60_000_000).rfc3339, "approve", "f\(n)", "dave"))
                filler = Timestamp(micros: filler.micros + 1_800_000_000)
                n += 1
            }
            lines.append(line(t.rfc3339, "execute", "r1", "alice"))
            return rules(try run(lines, config: "request_retention: 24h"), "execute_without_approval").filter { $0.requestID == "r1" }.count
        }
        #expect(try verdict(executeAfterHours: 23.5) == 0)
        #expect(try verdict(executeAfterHours: 36.5) == 1)
    }

    @Test func selectionFindsTheKthSmallest() {
        var rng = SplitMix64(seed: 9)
        for n in [1, 2, 3, 10, 1_000, 20_000] {
            for pattern in 0..<4 {
                var a: [Int64] = (0..<n).map { i in
                    switch pattern {
                    case 0: Int64(rng.below(1_000_000))
                    case 1: Int64(i)                     // sorted
                    case 2: Int64(n - i)                 // reversed
                    default: Int64(rng.below(3))         // many equal
                    }
                }
                let sorted = a.sorted()
                let k = rng.below(n)
                #expect(Engine.select(&a, k) == sorted[k], "n \(n), pattern \(pattern), k \(k)")
            }
        }
    }
}
