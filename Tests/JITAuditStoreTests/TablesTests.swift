import Foundation
import Testing
@testable import JITAuditStore

@Suite("Rejections, findings, checkpoints, snapshots")
struct TablesTests {
    @Test func rejectionKeepsReasonPositionAndCappedBytes() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        let big = [UInt8](repeating: 0xFF, count: 10_000)
        try store.reject(Rejection(.invalidUTF8, "line is not valid UTF-8"), raw: big, source: "/l/a.jsonl", line: 3, offset: 40,
                         receivedAt: t0)
        try store.reject(Rejection(.tooLong, "line longer than the limit"), raw: UnsafeRawBufferPointer(start: nil, count: 0),
                         length: 70_000, source: "/l/a.jsonl", line: 4, offset: 10_041, receivedAt: t0)
        try store.commit(at: t0)
        let s = try store.conn.prepare("SELECT kind, message, line, offset, length(raw), raw_length, received_at FROM rejections ORDER BY id")
        #expect(try s.step())
        #expect(s.text(0) == "invalid_utf8" && s.text(1) == "line is not valid UTF-8")
        #expect(s.int64(2) == 3 && s.int64(3) == 40 && s.int64(4) == Int64(rejectedBytesCap) && s.int64(5) == 10_000 && s.int64(6) == t0.micros)
        #expect(try s.step())
        #expect(s.text(0) == "too_long" && s.int64(4) == 0 && s.int64(5) == 70_000)
    }

    func finding(_ id: String, rule: String = "self_approval", severity: Severity = .critical, ts: Timestamp = t0,
                 actor: String = "Alice") -> Finding {
        Finding(id: id, rule: rule, severity: severity, ts: ts, actor: actor, requestID: "req-1", summary: "s \(id)",
                evidence: Evidence(requestIDs: ["req-1"], newValues: ["source_ip": "10.0.0.9"]))
    }

    @Test func findingsAreUniqueById() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        #expect(try store.record(finding("a"), recordedAt: t0))
        #expect(try !store.record(finding("a"), recordedAt: t0))
        try store.commit(at: t0)
        #expect(try !store.record(finding("a"), recordedAt: t0))
        try store.commit(at: t0)
        #expect(try store.count("findings") == 1)
        let stored = try store.findings(FindingFilter())
        #expect(stored.first?.json == FindingFormat.json(finding("a")))
        #expect(try store.conn.scalarInt("SELECT json_valid(evidence) FROM findings") == 1)
    }

    @Test func findingFilters() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        let hour: Int64 = 3_600_000_000
        try store.record(finding("1", rule: "rubber_stamp", severity: .medium, ts: Timestamp(micros: t0.micros)), recordedAt: t0)
        try store.record(finding("2", rule: "self_approval", severity: .critical, ts: Timestamp(micros: t0.micros + hour), actor: "bob"), recordedAt: t0)
        try store.record(finding("3", rule: "unknown_source", severity: .high, ts: Timestamp(micros: t0.micros + 2 * hour), actor: "ALICE"), recordedAt: t0)
        try store.commit(at: t0)
        func ids(_ configure: (inout FindingFilter) -> Void) throws -> [String] {
            var f = FindingFilter()
            configure(&f)
            return try store.findings(f).map(\.id)
        }
        #expect(try ids { _ in } == ["1", "2", "3"])
        #expect(try ids { $0.since = Timestamp(micros: t0.micros + hour) } == ["2", "3"])
        #expect(try ids { $0.until = Timestamp(micros: t0.micros + hour) } == ["1"])
        #expect(try ids { $0.rule = "unknown_source" } == ["3"])
        #expect(try ids { $0.actor = " alice " } == ["1", "3"])
        #expect(try ids { $0.severities = [.high, .critical] } == ["2", "3"])
        #expect(try ids { $0.limit = 1 } == ["1"])
    }

    @Test func checkpointsRoundTrip() throws {
        let db = try TempDB(); defer { db.cleanup() }
        do {
            let store = try db.open()
            try store.save(SourceCheckpoint(path: "/l/a", device: 1, inode: UInt64.max, fingerprint: 0xDEAD_BEEF_0000_0001, offset: 123, line: 9), at: t0)
            try store.save(SourceCheckpoint(path: "/l/a", device: 1, inode: UInt64.max, fingerprint: 0xDEAD_BEEF_0000_0001, offset: 456, line: 12), at: t0)
            try store.commit(at: t0)
        }
        let c = try db.open().checkpoints()
        #expect(c.count == 1)
        #expect(c["/l/a"] == SourceCheckpoint(path: "/l/a", device: 1, inode: UInt64.max, fingerprint: 0xDEAD_BEEF_0000_0001, offset: 456, line: 12))
    }

    /// The snapshot plus the events logged after it bring an engine to where an uninterrupted one stands.
    @Test func snapshotAndLogTailResumeTheEngine() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let set = try RuleLoader.load([("default.yaml", DefaultRules.yaml)], config: EngineConfig()).get()
        var lines: [String] = []
        for i in 0..<40 {
            let ts = Timestamp(micros: t0.micros + Int64(i) * 20_000_000).rfc3339
            lines.append(eventLine(ts, "request", "r\(i)", "u\(i % 3)", ["priority": "high"]))
            lines.append(eventLine(ts, "approve", "r\(i)", i % 4 == 0 ? "u\(i % 3)" : "boss", ["justification": "ok"]))
        }
        var whole = Engine(rules: set, config: EngineConfig())
        var expected: [Finding] = []
        for l in lines { whole.ingest(try event(l)); expected += whole.takeFindings() }
        whole.finish(); expected += whole.takeFindings()

        do {
            let store = try db.open()
            var engine = Engine(rules: set, config: EngineConfig())
            for (i, l) in lines.prefix(50).enumerated() {
                let e = try event(l)
                try store.append(e, source: "s", line: i + 1, offset: Int64(i), receivedAt: t0)
                engine.ingest(e)
                for f in engine.takeFindings() { try store.record(f, recordedAt: t0) }
                if i == 29 { try store.commit(snapshot: engine.state, at: t0) }
            }
            try store.commit(at: t0)
        }  // "crash": the engine is gone
        let store = try db.open()
        let snap = try #require(try store.snapshot())
        #expect(snap.throughSeq == 30)
        var engine = Engine(rules: set, config: EngineConfig(), state: snap.state)
        try store.forEachEvent(after: snap.throughSeq) { raw in
            if case .success(let e) = LineDecoder().decode(raw.bindMemory(to: UInt8.self)) { engine.ingest(e) }
        }
        for f in engine.takeFindings() { try store.record(f, recordedAt: t0) }
        for l in lines.dropFirst(50) {
            engine.ingest(try event(l))
            for f in engine.takeFindings() { try store.record(f, recordedAt: t0) }
        }
        engine.finish()
        for f in engine.takeFindings() { try store.record(f, recordedAt: t0) }
        try store.commit(at: t0)
        #expect(!expected.isEmpty)
        #expect(try store.findings(FindingFilter()).map(\.json).sorted() == expected.map(FindingFormat.json).sorted())
    }
}
