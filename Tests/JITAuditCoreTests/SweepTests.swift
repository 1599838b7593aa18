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

    /// A request's lifecycle ends `request_retention` after its last event:
    /// an execute later than that counts as one without approval, exactly
    /// so (the sweep forgets such lifecycles only within an interval, 12 h).
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
        #expect(try verdict(executeAfterHours: 24.5) == 1)
        #expect(try verdict(executeAfterHours: 36.5) == 1)
    }

    /// Whether an execute past the retention counts as one without approval
    /// depends neither on the order of events of the same moment nor on the
    /// shard its request id falls in (the sweep's phase). Two requests
    /// approved a day apart from their executes, both executed at the same
    /// moment: both fire, in either order, at `request_retention` 1 h (4 h
    /// 1 min in effect: the retention outlasts `stale_request`'s deadline
    /// plus the lateness) and at the default 24 h.
    @Test func anExecutePastTheRetentionIsJudgedAloneWhateverTheOrder() throws {
        let lifecycles = [line("2026-03-02T09:00:00Z", "request", "R1", "alice", ["justification": "long enough text"]),
                          line("2026-03-02T09:05:00Z", "approve", "R1", "bob"),
                          line("2026-03-02T12:00:00Z", "request", "R2", "carol", ["justification": "long enough text"]),
                          line("2026-03-02T12:05:00Z", "approve", "R2", "bob")]
        let executes = [line("2026-03-03T12:30:00Z", "execute", "R1", "alice"),
                        line("2026-03-03T12:30:00Z", "execute", "R2", "carol")]
        for config in ["request_retention: 1h", "request_retention: 24h"] {
            for order in [executes, executes.reversed()] {
                let fired = rules(try run(lifecycles + order, config: config), "execute_without_approval").compactMap(\.requestID)
                #expect(fired.sorted() == ["R1", "R2"], "\(config), executes \(order.map { $0.contains("R1") ? "R1" : "R2" })")
            }
        }
    }

    /// A request id seen again after the retention starts a new lifecycle,
    /// judged on its own request, and the old one is finished first: its
    /// deadline still fires against its own request.
    @Test func aRequestIdSeenAgainAfterTheRetentionFinishesItsOldLifecycleFirst() throws {
        let lines = [line("2026-03-02T09:00:00Z", "request", "R1", "alice", ["justification": "long enough text"]),
                     line("2026-03-03T10:00:00Z", "request", "R1", "dave", ["justification": "a new request, same id"]),
                     line("2026-03-03T10:02:00Z", "approve", "R1", "dave"),
                     line("2026-03-03T10:05:00Z", "execute", "R1", "dave")]
        let findings = try run(lines, config: "request_retention: 24h")
        let stale = rules(findings, "stale_request")
        #expect(stale.count == 1 && stale.first?.actor == "alice" && stale.first?.ts.rfc3339 == "2026-03-02T13:00:00.000Z", "\(stale)")
        // Dave's approve is of his own request (not of alice's, a day before).
        #expect(rules(findings, "self_approval").map(\.actor) == ["dave"])
        #expect(rules(findings, "execute_without_approval").isEmpty, "the new lifecycle's approve counts for its execute")
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
