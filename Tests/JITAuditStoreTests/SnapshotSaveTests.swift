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
}
