import Foundation
import JITAuditCore
import Testing
@testable import JITAuditCore
@testable import JITAuditStore

/// Snapshots encoded off the writer and saved between batches (the daemon's
/// pipeline does this so a large state never holds up its commits).
@Suite("Snapshots saved beside the writer")
struct SnapshotSaveTests {
    /// A state taken after event 10 and saved after event 20 is committed
    /// resumes at 10; an older one never replaces it; one ahead of the log is refused.
    @Test func savedLateCoversWhatItWasTakenAfter() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 10)
        var state = EngineState()
        state.watermark = Timestamp(micros: 10)
        let taken = try AuditStore.encodeSnapshot(state, path: db.path)
        try appendEvents(store, 10, from: 10)
        #expect(try store.saveSnapshot(encoded: taken, throughSeq: 10, at: t0))
        var snap = try #require(try store.snapshot())
        #expect(snap.throughSeq == 10 && snap.state.watermark == Timestamp(micros: 10))

        var older = EngineState()
        older.watermark = Timestamp(micros: 5)
        #expect(try !store.saveSnapshot(encoded: AuditStore.encodeSnapshot(older, path: db.path), throughSeq: 5, at: t0))
        snap = try #require(try store.snapshot())
        #expect(snap.throughSeq == 10 && snap.state.watermark == Timestamp(micros: 10))

        #expect(throws: StoreError.self) { try store.saveSnapshot(encoded: taken, throughSeq: 21, at: t0) }
        // Not inside an open batch.
        try appendEvents(store, 1, from: 20, commit: false)
        #expect(throws: StoreError.self) { try store.saveSnapshot(encoded: taken, throughSeq: 20, at: t0) }
        try store.commit(at: t0)
        #expect(try db.scalar("SELECT through_seq FROM engine_snapshot") == 10)
        #expect(try db.scalar("SELECT count(*) FROM events") == 21)
    }

    /// New snapshots are binary (`bin-v2`); a store whose snapshot an earlier
    /// version wrote as JSON (`json-v1`) still resumes from it, and an unknown
    /// format is refused with a message, not misread.
    @Test func binarySnapshotsAndEarlierJSONOnesBothRestore() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 3)
        var state = EngineState()
        state.watermark = Timestamp(micros: 42)
        try store.commit(snapshot: state, at: t0)
        let format = try Connection(path: db.path, readOnly: true, create: false).prepare("SELECT format FROM engine_snapshot")
        #expect(try format.step() && format.text(0) == "bin-v2")
        #expect(try store.snapshot()?.state.watermark == Timestamp(micros: 42))

        let c = try Connection(path: db.path, readOnly: false, create: false)
        let json = try JSONEncoder().encode(state)
        let update = try c.prepare("UPDATE engine_snapshot SET format = ?1, state = ?2")
        update.bind(1, "json-v1"); update.bindBlob(2, Array(json))
        try update.run()
        #expect(try store.snapshot()?.state.watermark == Timestamp(micros: 42))

        try c.exec("UPDATE engine_snapshot SET format = 'bin-v9'")
        #expect(throws: StoreError.self) { try store.snapshot() }
    }

    /// Open requests keep their `request` event; a `bin-v2` snapshot names it
    /// by id and time and the resume reads it back from the log, so the state
    /// is the one saved. `bin-v1` snapshots (lines inline) still read; an
    /// event no longer in the log is counted, and its request kept without it.
    @Test func requestEventsAreReadBackFromTheLog() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        let config = EngineConfig()
        var engine = Engine(rules: try RuleSet.defaults(config: config), config: config)
        let lines = (0..<30).map { i in
            eventLine(Timestamp(micros: t0.micros + Int64(i) * 1_000_000).rfc3339, i % 3 == 0 ? "request" : "approve", "req-\(i / 3)", "u\(i % 4)",
                      ["justification": "ticket OPS-\(i) needs a longer text", "priority": "high", "environment": "prod"])
        }
        for (i, l) in lines.enumerated() {
            let e = try event(l)
            try store.append(e, source: "/gen.jsonl", line: i + 1, offset: Int64(i) * 200, receivedAt: t0)
            engine.ingest(e)
        }
        try store.commit(snapshot: engine.state, at: t0)
        let blob = try #require(try db.scalar("SELECT length(state) FROM engine_snapshot"))
        let snap = try #require(try store.snapshot())
        #expect(snap.unresolvedRequests == 0)
        #expect(snap.state.requests.count == 10)
        for (id, r) in engine.state.requests {
            #expect(snap.state.requests[id]?.request?.raw == r.request?.raw, "\(id)")
        }
        // The same state with its lines inline (what earlier versions wrote) is larger, and reads the same.
        let inline = engine.state.binaryEncoded()
        #expect(inline.count > Int(blob) + 10 * 100)
        let c = try Connection(path: db.path, readOnly: false, create: false)
        let update = try c.prepare("UPDATE engine_snapshot SET format = 'bin-v1', state = ?1")
        update.bindBlob(1, inline)
        try update.run()
        let old = try #require(try store.snapshot())
        #expect(old.unresolvedRequests == 0 && old.state.requests["req-4"]?.request?.raw == engine.state.requests["req-4"]?.request?.raw)
        // A `request` event gone from the log (pruned by hand): counted, the request kept without it.
        try store.commit(snapshot: engine.state, at: t0)
        try c.exec("DELETE FROM events WHERE request_id = 'req-4' AND event = 'request'")
        let gone = try #require(try store.snapshot())
        #expect(gone.unresolvedRequests == 1)
        #expect(gone.state.requests["req-4"] != nil && gone.state.requests["req-4"]?.request == nil)
        #expect(gone.state.requests["req-5"]?.request != nil)
    }

    /// A snapshot saved in parts (the daemon's periodic ones) restores as the
    /// whole; parts of a save that never finished (a crash) leave the current
    /// snapshot as it was and are removed by the next save; a missing part is
    /// an error, not a wrong state; an inline snapshot replaces them all.
    @Test func snapshotsSavedInPartsRestoreWhole() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 20)
        func encoded(_ micros: Int64) throws -> [UInt8] {
            var state = EngineState()
            state.watermark = Timestamp(micros: micros)
            state.stats.findingsByRule = Dictionary(uniqueKeysWithValues: (0..<200).map { ("rule-\($0)", $0) })
            return try AuditStore.encodeSnapshot(state, path: db.path)
        }
        func save(_ bytes: [UInt8], through: Int64, partSize: Int, finish: Bool = true) throws -> Bool {
            let parts = stride(from: 0, to: bytes.count, by: partSize).map { Array(bytes[$0..<min(bytes.count, $0 + partSize)]) }
            for (i, p) in parts.enumerated() { try store.stageSnapshotPart(p, index: i) }
            return finish ? try store.saveStagedSnapshot(parts: parts.count, throughSeq: through, at: t0) : false
        }
        let first = try encoded(10)
        #expect(first.count > 1000)
        #expect(try save(first, through: 10, partSize: 97))
        #expect(try db.scalar("SELECT parts FROM engine_snapshot") == Int64((first.count + 96) / 97))
        var snap = try #require(try store.snapshot())
        #expect(snap.throughSeq == 10 && snap.state.watermark == Timestamp(micros: 10) && snap.state.stats.findingsByRule.count == 200)

        // A save cut short: the current snapshot is untouched.
        _ = try save(try encoded(15), through: 15, partSize: 100, finish: false)
        snap = try #require(try db.open(.read).snapshot())
        #expect(snap.throughSeq == 10 && snap.state.watermark == Timestamp(micros: 10))
        // An older one is not stored. Its parts and the cut-short save's stay
        // until removed a few per transaction (a save does not wait for that).
        #expect(try !save(try encoded(5), through: 5, partSize: 300))
        #expect(try store.snapshot()?.throughSeq == 10)
        let current = try #require(try db.scalar("SELECT generation FROM engine_snapshot"))
        let stale = try #require(try db.scalar("SELECT count(*) FROM engine_snapshot_parts WHERE generation <> \(current)"))
        #expect(stale > 3)
        #expect(try store.dropStaleSnapshotParts(limit: 3))
        #expect(try db.scalar("SELECT count(*) FROM engine_snapshot_parts WHERE generation <> \(current)") == stale - 3)
        while try store.dropStaleSnapshotParts(limit: 3) {}
        #expect(try db.scalar("SELECT count(*) FROM engine_snapshot_parts WHERE generation <> \(current)") == 0)
        #expect(try store.snapshot()?.throughSeq == 10)
        // A newer one replaces it; the stray parts go after.
        #expect(try save(try encoded(20), through: 20, partSize: 1 << 20))
        #expect(try store.snapshot()?.state.watermark == Timestamp(micros: 20))
        #expect(try !store.dropStaleSnapshotParts(limit: 1000))
        #expect(try db.scalar("SELECT count(*) FROM engine_snapshot_parts") == 1)
        // The parts of a save in progress are not stale.
        try store.stageSnapshotPart([9, 9], index: 0)
        #expect(try !store.dropStaleSnapshotParts(limit: 1000))
        #expect(try db.scalar("SELECT count(*) FROM engine_snapshot_parts") == 2)
        // Finishing without every part is refused.
        try store.stageSnapshotPart([1, 2, 3], index: 0)
        #expect(throws: StoreError.self) { try store.saveStagedSnapshot(parts: 2, throughSeq: 20, at: t0) }
        #expect(try store.snapshot()?.state.watermark == Timestamp(micros: 20))

        // A part deleted by hand: an error naming what is missing.
        #expect(try save(first + [], through: 20, partSize: 50))
        try db.sql("DELETE FROM engine_snapshot_parts WHERE part = 3")
        #expect(throws: StoreError.self) { try store.snapshot() }

        // An inline snapshot (with a batch) takes the row back and drops every part.
        var state = EngineState()
        state.watermark = Timestamp(micros: 99)
        try store.commit(snapshot: state, at: t0)
        #expect(try store.snapshot()?.state.watermark == Timestamp(micros: 99))
        #expect(try db.scalar("SELECT count(*) FROM engine_snapshot_parts") == 0)
        #expect(try db.scalar("SELECT parts FROM engine_snapshot") == 0)
    }
}
