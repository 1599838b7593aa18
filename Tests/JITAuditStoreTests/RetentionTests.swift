import Foundation
import Testing
@testable import JITAuditStore

@Suite("Retention")
struct RetentionTests {
    @Test func pruneKeepsTheChainVerifiable() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 100)  // one second apart from t0
        try store.commit(snapshot: EngineState(), at: t0)
        try store.reject(Rejection(.notJSON, "x"), raw: [1, 2], source: "s", line: 1, offset: 0, receivedAt: Timestamp(micros: t0.micros + 10))
        try store.reject(Rejection(.notJSON, "y"), raw: [3], source: "s", line: 2, offset: 2, receivedAt: Timestamp(micros: t0.micros + 90_000_000))
        try store.commit(at: t0)
        let cutoff = Timestamp(micros: t0.micros + 60_000_000)
        let r = try store.prune(olderThan: cutoff, batchSize: 7, now: t0)
        #expect(r == PruneResult(events: 60, rejections: 1))
        let report = try store.verifyChain()
        #expect(report.isIntact)
        #expect(report.rows == 40 && report.firstSeq == 61 && report.lastSeq == 100)
        #expect(try store.conn.scalarInt("SELECT min(ts) FROM events") == cutoff.micros)
        // Appending goes on, and the chain still verifies from its anchor.
        try appendEvents(store, 5, from: 100)
        #expect(try store.verifyChain().rows == 45)
        // Pruning again finds nothing more to do.
        #expect(try store.prune(olderThan: cutoff, now: t0) == PruneResult())
        // Tampering with the anchor is caught.
        try db.sql("UPDATE chain SET anchor_hash = zeroblob(32)")
        #expect(try store.verifyChain().problem?.seq == 61)
    }

    @Test func pruneNeverPassesTheEngineSnapshot() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 10)
        try store.commit(snapshot: EngineState(), at: t0)  // covers seq 1...10
        try appendEvents(store, 10, from: 10)
        let r = try store.prune(olderThan: Timestamp(micros: t0.micros + 3_600_000_000), now: t0)
        #expect(r.events == 10)
        var seen = 0
        try store.forEachEvent(after: 10) { _ in seen += 1 }
        #expect(seen == 10)
        #expect(try store.verifyChain().isIntact)
    }

    @Test func pruneOfEverythingLeavesAnEmptyVerifiableLog() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 25)
        try store.commit(snapshot: EngineState(), at: t0)
        try store.prune(olderThan: Timestamp(micros: t0.micros + 3_600_000_000), batchSize: 10, now: t0)
        let r = try store.verifyChain()
        #expect(r.isIntact && r.rows == 0)
        try appendEvents(store, 3, from: 25)
        #expect(try store.verifyChain().rows == 3)
        #expect(try store.verifyChain().firstSeq == 26)
    }
}
