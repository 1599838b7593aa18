import Foundation
@testable import JITAuditCore
import Testing

@Suite struct EngineStateTests {
    /// A stream cut anywhere, with the engine state encoded and decoded at the
    /// cut, gives exactly the findings of an uninterrupted run: what the
    /// store's checkpoints rely on.
    @Test(arguments: ["json", "binary"]) func resumingFromEncodedStateGivesTheSameFindings(_ form: String) throws {
        var lines: [String] = []
        for d in 2...12 {
            let day = String(format: "2026-03-%02d", d)
            lines.append(line("\(day)T10:00:00Z", "request", "a\(d)", "alice", ["priority": "high"]))
            lines.append(line("\(day)T10:00:10Z", "approve", "a\(d)", "bob", ["source_ip": d > 9 ? "203.0.113.\(d)" : "10.0.0.1"]))
            lines.append(line("\(day)T19:0\(d % 10):00Z", "request", "n\(d)", "night"))
            lines.append(line("\(day)T11:00:00Z", "execute", "x\(d)", "eve"))
            lines.append(line("\(day)T10:30:00Z", "request", "s\(d)", "sam"))
        }
        let config = try ConfigLoader.load("", file: "c").get()
        let set = try RuleSet.defaults(config: config)
        func runAll(cutAt: Int?) throws -> [String] {
            var engine = Engine(rules: set, config: config)
            var ids: [String] = []
            for (i, l) in lines.enumerated() {
                if i == cutAt {
                    let restored: EngineState
                    if form == "json" {
                        restored = try JSONDecoder().decode(EngineState.self, from: try JSONEncoder().encode(engine.state))
                    } else {
                        restored = try engine.state.binaryEncoded().withUnsafeBytes { b throws(BinaryStateError) in try EngineState(binary: b) }
                    }
                    engine = Engine(rules: set, config: config, state: restored)
                }
                engine.ingest(try decode(l))
                ids += engine.takeFindings().map(\.id)
            }
            engine.finish()
            return (ids + engine.takeFindings().map(\.id)).sorted()
        }
        let whole = try runAll(cutAt: nil)
        #expect(whole.count > 20)
        for cut in stride(from: 1, to: lines.count, by: 7) {
            #expect(try runAll(cutAt: cut) == whole, "cut at \(cut)")
        }
    }

    /// The binary form holds everything the JSON form does (checked by
    /// round-tripping a busy state and comparing what each form keeps), is
    /// smaller, and a truncated or altered blob is an error, never a crash.
    @Test func binaryStateRoundTripsAndRejectsDamage() throws {
        let config = try ConfigLoader.load("", file: "c").get()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        for d in 2...20 {
            let day = String(format: "2026-03-%02d", d)
            for k in 0..<6 {
                engine.ingest(try decode(line("\(day)T19:0\(k):00Z", "request", "n\(d)-\(k)", "night", ["priority": "high", "justification": "fix \"it\"\\ ✓"])))
            }
            engine.ingest(try decode(line("\(day)T19:08:00Z", "approve", "n\(d)-0", "night", ["source_ip": "2001:db8::\(d)", "expires_at": "\(day)T20:00:00Z"])))
            engine.ingest(try decode(line("\(day)T19:09:00Z", "execute", "x\(d)", "eve")))
            _ = engine.takeFindings()
        }
        let state = engine.state
        let blob = state.binaryEncoded()
        let back = try blob.withUnsafeBytes { b throws(BinaryStateError) in try EngineState(binary: b) }
        // Re-encoding the decoded state gives a blob of the same length (dictionary order may differ).
        #expect(back.binaryEncoded().count == blob.count)
        #expect(back.requests.count == state.requests.count && back.reorder.count == state.reorder.count)
        #expect(back.timers.count == state.timers.count && back.findingQueue.count == state.findingQueue.count)
        #expect(back.stats == state.stats && back.maxTs == state.maxTs && back.watermark == state.watermark && back.seq == state.seq)
        for (id, r) in state.requests {
            let b = try #require(back.requests[id])
            #expect(b.request?.raw == r.request?.raw && b.lastTs == r.lastTs && b.absenceStarted == r.absenceStarted)
            #expect(b.decisions.map(\.ts) == r.decisions.map(\.ts) && b.decisions.map(\.expiresAt) == r.decisions.map(\.expiresAt))
        }
        for (id, rs) in state.rules {
            let b = try #require(back.rules[id])
            #expect(Set(b.windows.keys) == Set(rs.windows.keys) && b.lastFired == rs.lastFired)
            for (k, w) in rs.windows { #expect(b.windows[k]?.live.map(\.ref) == w.live.map(\.ref) && b.windows[k]?.armed == w.armed) }
            for (k, base) in rs.baselines { #expect(b.baselines[k]?.values == base.values && b.baselines[k]?.lastSeen == base.lastSeen) }
        }
        #expect(back.timers.items.map(\.requestID) == state.timers.items.map(\.requestID))
        #expect(back.findingQueue.items.map(\.finding) == state.findingQueue.items.map(\.finding))
        let json = try JSONEncoder().encode(state)
        #expect(blob.count * 2 < json.count, "binary \(blob.count) bytes, JSON \(json.count)")
        for cut in stride(from: 0, to: blob.count, by: max(1, blob.count / 300)) {
            let r = Array(blob[..<cut]).withUnsafeBytes { b in Result { () throws(BinaryStateError) in try EngineState(binary: b) } }
            #expect(throws: BinaryStateError.self, "cut at \(cut)") { try r.get() }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var bad = blob
            bad[Int.random(in: 0..<bad.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            // Either an error or some state; never a crash.
            _ = bad.withUnsafeBytes { b in try? EngineState(binary: b) }
        }
    }

    /// The daemon encodes its snapshots by draining a copy of the state
    /// (``EngineState/drainBinaryEncoded(requestEventsByReference:)``): it
    /// writes what encoding without draining writes, in both forms, and the
    /// engine's own state is untouched.
    @Test func drainingAStateWritesWhatEncodingItWrites() throws {
        let config = try ConfigLoader.load("", file: "c").get()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        // Six requests an hour, each approved from an address and device of its own.
        let lines = (2...20).flatMap { h in
            (0..<6).flatMap { k in
                let at = String(format: "2026-03-02T%02d:0%d", h, k)
                return [line("\(at):00Z", "request", "n\(h)-\(k)", "u\(k)", ["priority": "high"]),
                        line("\(at):30Z", "approve", "n\(h)-\(k)", "a\(h)", ["source_ip": "10.0.\(h).\(k)", "device_id": "dev-\(h)-\(k)"])]
            }
        }
        for l in lines { engine.ingest(try decode(l)) }
        _ = engine.takeFindings()
        let state = engine.state
        #expect(state.rules.values.contains { !$0.baselines.isEmpty } && state.requests.count > 20)
        for byReference in [false, true] {
            // One state value, so both walk its tables in the same order.
            let expected = state.binaryEncoded(requestEventsByReference: byReference)
            #expect(state.drainBinaryEncoded(requestEventsByReference: byReference) == expected)
        }
        // What was drained was a copy: the engine's state and `state` are whole.
        let again = engine.state
        #expect(again.requests.count == state.requests.count && again.requests.count > 20)
        #expect(again.binaryEncoded().count == state.binaryEncoded().count)
    }

    /// An actor's known values are kept in an array while few and in a set
    /// beyond; either way each is known once learned, new values are new,
    /// and both forms survive a snapshot.
    @Test func baselinesPastTheArrayLimitStillKnowEveryValue() throws {
        var values = BaselineValues()
        let n = BaselineValues.arrayLimit * 3
        func value(_ i: Int) -> BaselineValue {
            i.isMultiple(of: 2) ? .ip(IPAddress(high: 0, low: UInt64(i))) : .text(field: "device_id", value: "dev-\(i)")
        }
        for i in 0..<n { #expect(values.insert(value(i)).inserted, "value \(i) is new") }
        for i in 0..<n { #expect(!values.insert(value(i)).inserted, "value \(i) is known") }
        // The same text under another field is another value.
        #expect(values.insert(.text(field: "source_ip", value: "dev-1")).inserted)
        #expect(values.count == n + 1)
        for count in [3, n] {
            var state = EngineState()
            var rs = RuleState()
            var b = Baseline(lastSeen: Timestamp(micros: 1))
            for i in 0..<count { b.values.insert(value(i)) }
            rs.baselines["alice"] = b
            state.rules["unknown_source"] = rs
            let back = try state.binaryEncoded().withUnsafeBytes { b throws(BinaryStateError) in try EngineState(binary: b) }
            let restored = try #require(back.rules["unknown_source"]?.baselines["alice"])
            #expect(restored.values == b.values && restored.values.count == count)
            let json = try JSONDecoder().decode(EngineState.self, from: JSONEncoder().encode(state))
            #expect(json.rules["unknown_source"]?.baselines["alice"]?.values == b.values)
        }
    }

    @Test func memoryStaysFlatOverALongStream() throws {
        let config = try ConfigLoader.load("", file: "c").get()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        // 120 days, a new request id every 10 minutes, each decided and executed.
        var t = RFC3339.parse("2026-01-05T00:00:00Z")!
        for i in 0..<(120 * 144) {
            let ts = t.rfc3339
            engine.ingest(try decode(line(ts, "request", "r\(i)", "user\(i % 50)")))
            engine.ingest(try decode(line((t + .minutes(2)).rfc3339, "approve", "r\(i)", "approver\(i % 7)")))
            _ = engine.takeFindings()
            t = t + .minutes(10)
        }
        engine.finish()
        let state = engine.state
        // Retention is 24 h: about 144 requests, never the 17,280 seen.
        #expect(state.requests.count < 144 * 3)
    }
}

@Suite struct ReloadStateTests {
    /// On reload a rule keeps its windows only when its definition did not change.
    @Test func unchangedRulesKeepTheirStateChangedOnesStartOver() throws {
        func rules(_ count: Int) -> String {
            """
            rules:
              - id: burst
                severity: low
                type: threshold
                when: {event: request}
                group_by: requester
                window: 1h
                count: \(count)
            """
        }
        let config = EngineConfig()
        var engine = Engine(rules: try RuleLoader.load([("r.yaml", rules(3))], config: config).get(), config: config)
        for i in 0..<2 { engine.ingest(try decode(line("2026-03-02T10:0\(i):00Z", "request", "r\(i)", "alice"))) }
        // Same definition: the two requests are remembered, the third fires.
        var same = Engine(rules: try RuleLoader.load([("r.yaml", rules(3))], config: config).get(), config: config, state: engine.state)
        same.ingest(try decode(line("2026-03-02T10:02:00Z", "request", "r2", "alice")))
        same.finish()
        #expect(same.takeFindings().map(\.evidence.requestIDs) == [["r0", "r1", "r2"]])
        // Changed definition (count 3 → 2): the window it had (r0) is dropped; events not yet
        // processed (r1, still within the lateness) are judged by the new rule.
        var changed = Engine(rules: try RuleLoader.load([("r.yaml", rules(2))], config: config).get(), config: config, state: engine.state)
        changed.ingest(try decode(line("2026-03-02T10:02:00Z", "request", "r2", "alice")))
        changed.finish()
        #expect(changed.takeFindings().map(\.evidence.requestIDs) == [["r1", "r2"]])
    }
}
