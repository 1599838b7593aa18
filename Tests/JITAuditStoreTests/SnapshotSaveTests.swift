import Foundation
import JITAuditCore
import Testing
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

    /// New snapshots are binary (`bin-v1`); a store whose snapshot an earlier
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
        #expect(try format.step() && format.text(0) == "bin-v1")
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
}
