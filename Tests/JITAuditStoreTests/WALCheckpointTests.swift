import Foundation
import Testing
@testable import JITAuditStore

/// The write-ahead log is copied back into the database by the background
/// checkpointer, not by the commits (see `WALCheckpointer`).
@Suite("WAL checkpoints")
struct WALCheckpointTests {
    /// ~2.5 KB events, one per commit: every commit appends frames to the log.
    private func appendLarge(_ store: AuditStore, _ n: Int) throws {
        let padding = String(repeating: "x", count: 2_400)
        for i in 0..<n {
            let ts = Timestamp(micros: t0.micros + Int64(i) * 1_000_000)
            let e = try event(eventLine(ts.rfc3339, "request", "req-\(i)", "user\(i % 7)", ["justification": padding]))
            try store.append(e, source: "/var/log/jit.jsonl", line: i + 1, offset: Int64(i * 2_500), receivedAt: ts)
            try store.commit(at: ts)
        }
    }

    private func walBytes(_ db: TempDB) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: db.path + "-wal"))?[.size] as? Int) ?? 0
    }

    @Test func theLogIsCheckpointedBesideTheWriterAndStaysSmall() throws {
        let db = try TempDB(); defer { db.cleanup() }
        var o = AuditStore.Options()
        o.keyMergeEvents = 1 << 20
        // A quarter of the standard limits, so a test's 48 MB show them at work.
        o.walLimits = .init(trigger: 1_000, restart: 4_000, catchUp: 256, hardLimit: 16_000)
        let store = try AuditStore(path: db.path, mode: .write, options: o)
        // About 12,000 frames (48 MB) pass through the log. SQLite's automatic
        // checkpoint is replaced by the checkpointer's hook: were the
        // background checkpoints not copying anything, the log would grow to
        // the hook's hard limit of 16,000 frames (64 MB) before the writer
        // checkpointed it itself.
        try appendLarge(store, 4_000)
        #expect(store.backgroundCheckpoints > 0)
        // On a thread of its own at nice 10, the normal policy (not idle-only,
        // which a busy host could starve until the writer copied it all).
        let threads = try BackgroundThreadTests.scheduling(ofThreadsNamed: "jitaudit.ckpt")
        // (Another store's checkpointer may be lifted to nice 0 for a moment
        // while its writer closes, when tests run in parallel.)
        #expect(threads.contains { $0 == (10, 0) } && threads.allSatisfy { $0.policy == 0 }, "checkpointer threads: \(threads)")
        // Without background checkpoints the log would reach the hard limit
        // (16,000 frames of 4 KiB and a header: 66 MB) and the writer copy
        // it itself. On a quiet host it stays under a third of that; a host
        // busy with other work starves the nice-10 thread for a while (49 MB
        // seen), so the bound is what the hard limit would have given.
        let wal = walBytes(db)
        #expect(wal > 0 && wal < 60 << 20, "WAL file is \(wal) bytes")
        // A reader sees everything, the chain is intact.
        let reader = try AuditStore(path: db.path, mode: .read)
        let report = try reader.verifyChain()
        #expect(report.problem == nil)
        #expect(report.rows == 4_000)
    }

    @Test func closingTheWriterFoldsTheLogIntoTheDatabase() throws {
        let db = try TempDB(); defer { db.cleanup() }
        do {
            let store = try db.open()
            try appendLarge(store, 600)
            #expect(walBytes(db) > 0)
        }
        // The checkpointer's connection closed first; the writer's, the last
        // one, checkpointed the log and removed it.
        #expect(!FileManager.default.fileExists(atPath: db.path + "-wal"))
        #expect(try db.scalar("SELECT count(*) FROM events") == 600)
    }
}
