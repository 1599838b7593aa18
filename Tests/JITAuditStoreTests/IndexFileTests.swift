import Foundation
import Testing
import JITAuditCore
@testable import JITAuditStore

/// The index file beside the audit log (``IndexFile``): derived from the log,
/// rebuilt by a writer whenever it does not match it, never trusted by a
/// reader when it does not.
@Suite("Index file")
struct IndexFileTests {
    var indexPath: (TempDB) -> String { { IndexFile.path(for: $0.path) } }

    /// A store of `requests` generated requests, merged in part (keyMerge 97).
    static func filled(_ db: TempDB, seed: UInt64 = 81, requests: Int = 300) throws -> GeneratedLog {
        let log = GeneratedLog(seed: seed, requests: requests)
        try log.append(to: try db.open(), seed: seed)
        return log
    }

    struct Answers: Equatable {
        var lookups: [String] = []
        var reports: [ReportData] = []
    }

    /// What readers answer: every request's and some actors' lookups, and reports.
    static func answers(_ db: TempDB, _ log: GeneratedLog) throws -> Answers {
        let reader = try db.open(.read)
        var out = Answers()
        let ids = Set(try log.lines.map { try event($0.line).requestID }).sorted()
        for id in ids { out.lookups.append("\(id): \(try KeyIndexTests.lookup(reader, request: id))") }
        for actor in ["alice", "bob", "erin"] { out.lookups.append("\(actor): \(try KeyIndexTests.lookup(reader, actor: actor))") }
        for (since, until) in ReportSummaryTests.periods(log, seed: 81) {
            out.reports.append(try reader.report(ReportSummaryTests.request(since, until)))
        }
        return out
    }

    /// The daemon's index writer takes idle cores only, so its merges never
    /// delay a finding; a bulk load's (`replay --db`) shares the cores at the
    /// normal priority, since with both cores busy an idle-only one starved
    /// until the log stopped to wait for it.
    @Test func aBulkLoadsIndexWriterSharesTheCoresTheDaemonsTakesIdleOnesOnly() throws {
        let db = try TempDB(); defer { db.cleanup() }
        do {
            let store = try db.open()
            let writer = try #require(store.bulk)
            let s = try #require(BackgroundThreadTests.scheduling(of: writer.threadID))
            // 5: SCHED_IDLE (granted to root and under the unit; the daemon
            // tests cover the fallback where it is denied).
            #expect(s.policy == 5 && writer.scheduling == 2, "daemon's index writer: \(s)")
        }
        var o = AuditStore.Options()
        o.indexWriterOnIdleCoresOnly = false
        let store = try AuditStore(path: db.path, mode: .write, options: o)
        let writer = try #require(store.bulk)
        let s = try #require(BackgroundThreadTests.scheduling(of: writer.threadID))
        #expect(s == (0, 0), "bulk load's index writer: \(s)")
        #expect(store.indexWriterScheduling?.idle == false)
    }

    /// The index file as it is after a fresh writer built it from the log.
    static func expectRebuilt(_ db: TempDB, because reason: String) throws {
        let store = try db.open()
        let note = try #require(store.indexFileNote)
        #expect(note.contains(reason) && note.contains("rebuilding"), "\(note)")
        store.settleBulkTables()
        let head = try #require(try db.scalar("SELECT head_seq FROM chain"))
        #expect(try db.scalar("SELECT min(through_seq, actor_through, summary_through) FROM index_state") == head)
        #expect(try db.scalar("SELECT count(*) FROM request_index") == (try db.scalar("SELECT count(*) FROM events")))
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        #expect(try store.verifyChain().isIntact)
        #expect(try db.open(.read).indexFileNote == nil)
    }

    @Test func aMissingIndexFileIsReadAroundThenRebuilt() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = try Self.filled(db)
        let expected = try Self.answers(db, log)
        IndexFile.remove(indexPath(db))
        // Readers answer the same from the log alone, and say why.
        let reader = try db.open(.read)
        #expect(reader.indexFileNote?.contains("missing") == true)
        #expect(try Self.answers(db, log) == expected)
        let report = try reader.verifyChain()
        #expect(report.isIntact)
        #expect(!FileManager.default.fileExists(atPath: indexPath(db)), "a reader never creates the index file")
        try Self.expectRebuilt(db, because: "missing")
        #expect(try Self.answers(db, log) == expected)
    }

    /// The build runs on the index writer's thread, so the log's commits go
    /// on meanwhile; what they add is merged after it, once.
    @Test func eventsCommittedDuringARebuildAreIndexedOnce() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 83, requests: 400)
        try log.append(to: try db.open(), to: 600, seed: 83)
        IndexFile.remove(indexPath(db))
        let store = try db.open(keyMerge: 50)
        #expect(store.indexFileNote?.contains("missing") == true)
        try log.append(to: store, from: 600, seed: 84)
        try store.flushBulkTables()
        #expect(try db.scalar("SELECT count(*) FROM request_index") == (try db.scalar("SELECT count(*) FROM events")))
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        #expect(try store.verifyChain().isIntact)
        try KeyIndexTests.expectCompleteLookups(db, store, log)
    }

    /// How far the index file's own markers reach (the file read directly).
    static func indexMarker(_ db: TempDB) throws -> Int64? {
        let c = try Connection(path: IndexFile.path(for: db.path), readOnly: true, create: false)
        return try c.scalarInt("SELECT min(through_seq, actor_through, summary_through) FROM index_state")
    }

    /// A build of the index file from the log takes minutes on a large log
    /// (10^7 events: 87 s). The log's commits meanwhile never wait for it,
    /// however far behind it falls, and keep nothing of theirs in memory
    /// for it: the summaries of their events are read back from the log
    /// afterwards, and every event is merged once.
    @Test func theLogsCommitsNeverWaitForABuildOfTheIndexFile() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 89, requests: 500)
        try log.append(to: try db.open(), to: 300, seed: 89)
        IndexFile.remove(indexPath(db))
        var o = AuditStore.Options()
        o.keyMergeEvents = 40
        o.indexMaxBehindEvents = 100
        // The build never gets a core. A commit that waited for the writer
        // would run it itself (a waiting caller runs what is queued).
        o.indexWriterStartsHeld = true
        let store = try AuditStore(path: db.path, mode: .write, options: o)
        let writer = try #require(store.bulk)
        for (i, l) in log.lines[300...].enumerated() {
            try store.append(try event(l.line), source: "/gen.jsonl", line: 301 + i, offset: Int64(300 + i) * 200, receivedAt: l.ts)
            if i % 10 == 9 { try store.commit(at: l.ts) }
        }
        try store.commit(at: log.last)
        #expect(log.lines.count - 300 > 5 * 100, "far more than the 100 events behind after which a commit waits")
        #expect(try Self.indexMarker(db) == 0, "no commit waited for the build")
        writer.holdThread(false)
        try store.flushBulkTables()
        #expect(try Self.indexMarker(db) == Int64(log.lines.count))
        #expect(try db.scalar("SELECT count(*) FROM request_index") == Int64(log.lines.count))
        #expect(try db.scalar("SELECT count(*) FROM actor_index") == Int64(log.lines.count))
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        try KeyIndexTests.expectCompleteLookups(db, store, log)
        // Past the build, commits keep their summary part again and merges follow.
        let more = GeneratedLog(seed: 90, requests: 60)
        for (i, l) in more.lines.enumerated() {
            let shifted = l.line.replacingOccurrences(of: "\"request_id\":\"r", with: "\"request_id\":\"m")
            try store.append(try event(shifted), source: "/more.jsonl", line: i + 1, offset: Int64(i) * 200, receivedAt: l.ts)
            if i % 10 == 9 { try store.commit(at: l.ts) }
        }
        try store.commit(at: more.last)
        try store.flushBulkTables()
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        #expect(try db.scalar("SELECT count(*) FROM request_index") == (try db.scalar("SELECT count(*) FROM events")))
    }

    /// The index file deleted again while the writer still builds the one
    /// it replaced: that build (into the unlinked file) is abandoned rather
    /// than waited for, and the new file gets every event.
    @Test func aBuildUnderWayIsAbandonedWhenItsFileIsDeletedAgain() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 91, requests: 400)
        try log.append(to: try db.open(), to: 500, seed: 91)
        IndexFile.remove(indexPath(db))
        var o = AuditStore.Options()
        o.keyMergeEvents = 50
        // Its build has not run yet: without the abandon, the reopen would
        // run all of it first (a waiting caller runs what is queued).
        o.indexWriterStartsHeld = true
        let store = try AuditStore(path: db.path, mode: .write, options: o)
        IndexFile.remove(indexPath(db))
        let note = try store.reopenIndexFileIfReplaced()
        #expect(note?.contains("was deleted while jitaudit was writing (its unfinished build was abandoned)") == true, "\(note ?? "no note")")
        try log.append(to: store, from: 500, seed: 92)
        try store.flushBulkTables()
        #expect(try Self.indexMarker(db) == Int64(log.lines.count))
        #expect(try db.scalar("SELECT count(*) FROM request_index") == Int64(log.lines.count))
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        #expect(try store.verifyChain().isIntact)
        try KeyIndexTests.expectCompleteLookups(db, store, log)
        #expect(try store.reopenIndexFileIfReplaced() == nil)
    }

    @Test func anIndexFileAheadOfTheLogIsNotUsedAndRebuilt() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = try Self.filled(db)
        let expected = try Self.answers(db, log)
        // As after a power cut that took the log's last commits but not the
        // index file's: the log ends 40 events earlier than the index file.
        let head = try #require(try db.scalar("SELECT head_seq FROM chain"))
        try db.sql("""
            DELETE FROM events WHERE seq > \(head - 40);
            UPDATE chain SET head_seq = \(head - 40), head_hash = (SELECT hash FROM events WHERE seq = \(head - 40));
            UPDATE index_state SET through_seq = \(head), actor_through = \(head), summary_through = \(head);
            """)
        let reader = try db.open(.read)
        #expect(reader.indexFileNote?.contains("ahead of the audit log") == true)
        // Not used: the lookups see no event the log does not have.
        for id in Set(try log.lines.map { try event($0.line).requestID }) {
            #expect(try KeyIndexTests.lookup(reader, request: id) == KeyIndexTests.direct(db, "request_id", id))
        }
        // `verify` names it: altered, or the log lost commits.
        let problem = try #require(try reader.verifyChain().problem)
        #expect(problem.description.contains("past the newest row") && problem.description.contains("power cut"), "\(problem)")
        try Self.expectRebuilt(db, because: "ahead of the audit log")
        _ = expected
    }

    @Test func anIndexFileOfAnotherLogIsNotUsedAndRebuilt() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let other = try TempDB(); defer { other.cleanup() }
        let log = try Self.filled(db)
        _ = try Self.filled(other, seed: 82, requests: 400)
        let expected = try Self.answers(db, log)
        IndexFile.remove(indexPath(db))
        try FileManager.default.copyItem(atPath: indexPath(other), toPath: indexPath(db))
        let reader = try db.open(.read)
        #expect(reader.indexFileNote?.contains("another audit log") == true)
        #expect(try Self.answers(db, log) == expected)
        #expect(try reader.verifyChain().isIntact)
        try Self.expectRebuilt(db, because: "another audit log")
        #expect(try Self.answers(db, log) == expected)
    }

    /// A writer that appended and merged the first `first` events of a
    /// generated log, whose index file was then deleted by hand.
    static func writerWithoutItsIndexFile(_ db: TempDB, seed: UInt64, first: Int) throws -> (GeneratedLog, AuditStore) {
        let log = GeneratedLog(seed: seed, requests: first * 2 / 3)
        let store = try db.open(keyMerge: 50)
        try log.append(to: store, to: first, seed: seed)
        try store.flushBulkTables()
        #expect(try store.reopenIndexFileIfReplaced() == nil, "nothing to do while the file is in place")
        IndexFile.remove(IndexFile.path(for: db.path))
        return (log, store)
    }

    /// The index file deleted by hand under a running writer: the writer's
    /// connection would go on filling the unlinked file, and prune's
    /// `ATTACH` would create an empty one and fail. Prune (and the daemon,
    /// every few seconds) opens a new one instead, rebuilt from the log.
    @Test func anIndexFileDeletedUnderTheWriterIsRebuiltAndPruneWorks() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let (log, store) = try Self.writerWithoutItsIndexFile(db, seed: 85, first: 500)
        try log.append(to: store, from: 500, seed: 86)
        try store.commit(snapshot: EngineState(), at: log.last)
        let pruned = try store.prune(olderThan: Timestamp(micros: (log.first.micros + log.last.micros) / 2), batchSize: 50, now: log.last)
        #expect(pruned.events > 0)
        #expect(store.indexFileNote?.contains("was deleted") == true, "\(store.indexFileNote ?? "no note")")
        try store.flushBulkTables()
        #expect(FileManager.default.fileExists(atPath: indexPath(db)))
        #expect(try db.scalar("SELECT count(*) FROM request_index") == (try db.scalar("SELECT count(*) FROM events")))
        #expect(try db.scalar("SELECT anchor_seq FROM index_state") == (try db.scalar("SELECT anchor_seq FROM chain")))
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        #expect(try store.verifyChain().isIntact)
        #expect(try store.reopenIndexFileIfReplaced() == nil)
        #expect(try db.open(.read).indexFileNote == nil, "readers use the new file")
    }

    /// A reopen that fails (here a directory stands where the file was)
    /// throws, the log's commits go on without an index writer, and the next
    /// attempt reopens and rebuilds it with every event.
    @Test func aFailedReopenOfTheIndexFileIsRetried() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let (log, store) = try Self.writerWithoutItsIndexFile(db, seed: 87, first: 300)
        try FileManager.default.createDirectory(atPath: indexPath(db), withIntermediateDirectories: false)
        #expect(throws: StoreError.self) { try store.reopenIndexFileIfReplaced() }
        try log.append(to: store, from: 300, seed: 88)
        try FileManager.default.removeItem(atPath: indexPath(db))
        let note = try store.reopenIndexFileIfReplaced()
        #expect(note?.contains("open again after a failed attempt") == true, "\(note ?? "no note")")
        try store.flushBulkTables()
        #expect(try db.scalar("SELECT count(*) FROM request_index") == (try db.scalar("SELECT count(*) FROM events")))
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        #expect(try store.verifyChain().isIntact)
        #expect(try store.reopenIndexFileIfReplaced() == nil)
    }

    /// A prune commits the log's file and the index file one after the
    /// other; a crash between them leaves their anchors apart.
    @Test func anInterruptedPruneIsNotUsedAndRebuilt() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = try Self.filled(db)
        do {
            let store = try db.open()
            try store.commit(snapshot: EngineState(), at: log.last)
            #expect(try store.prune(olderThan: Timestamp(micros: (log.first.micros + log.last.micros) / 2), batchSize: 50, now: log.last).events > 0)
        }
        #expect(try db.scalar("SELECT anchor_seq FROM index_state") == (try db.scalar("SELECT anchor_seq FROM chain")))
        try db.sql("UPDATE index_state SET anchor_seq = anchor_seq - 50")
        let reader = try db.open(.read)
        #expect(reader.indexFileNote?.contains("interrupted prune") == true)
        #expect(try reader.verifyChain().isIntact)
        try Self.expectRebuilt(db, because: "interrupted prune")
    }

    @Test func anUnreadableIndexFileIsReplaced() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = try Self.filled(db)
        let expected = try Self.answers(db, log)
        IndexFile.remove(indexPath(db))
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: indexPath(db)))
        let reader = try db.open(.read)
        #expect(reader.indexFileNote?.contains("cannot be read") == true)
        #expect(try Self.answers(db, log) == expected)
        try Self.expectRebuilt(db, because: "not a readable database")
    }

    /// The report reads the summaries and the lookups through the index
    /// file (not, silently, the slower path over the events): a summary row
    /// edited there shows in the report.
    @Test func theReportReadsTheIndexFile() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = try Self.filled(db)
        try db.open().flushBulkTables()
        let request = ReportSummaryTests.request(log.first, Timestamp(micros: log.last.micros + 1))
        let before = try db.open(.read).report(request)
        #expect(!before.approverLoad.approvers.contains { $0.approver == "zed" })
        try db.sql("""
            UPDATE requests SET approver = 'zed' WHERE rowid = (SELECT min(rowid) FROM requests
                WHERE dkind = 'approve' AND nreq = 1 AND cts >= rts)
            """)
        let after = try db.open(.read).report(request)
        #expect(after.approverLoad.approvers.contains { $0.approver == "zed" && $0.approvals == 1 })
    }

    /// The index file's writer runs on a thread of its own that takes only
    /// idle cores (`SCHED_IDLE`, and nice 10 where that is denied), so the
    /// threads findings wait for get the CPU first.
    @Test func theIndexWriterRunsOnlyOnIdleCores() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        store.settleBulkTables()
        let found = try BackgroundThreadTests.scheduling(ofThreadsNamed: "jitaudit.index")
        // 5 is SCHED_IDLE.
        #expect(found.contains { $0.nice == 10 && $0.policy == 5 }, "threads named jitaudit.index, their nice and policy: \(found)")
    }

    /// A failed merge into the index file fails the log's next commit, before
    /// anything of that batch is written.
    @Test func aFailedMergeFailsTheNextCommitWhole() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open(keyMerge: 20)
        _ = try appendEvents(store, 10)
        store.settleBulkTables()
        try db.sql("CREATE TRIGGER idx.no_more BEFORE INSERT ON request_index BEGIN SELECT RAISE(ABORT, 'no space left, say'); END;")
        _ = try appendEvents(store, 15, from: 10)
        store.settleBulkTables()
        _ = try appendEvents(store, 5, from: 25, commit: false)
        let failure = try #require(storeError { try store.commit(at: t0) })
        #expect(failure.message.contains("index file") && failure.message.contains("no space left"), "\(failure)")
        #expect(try db.scalar("SELECT count(*) FROM events") == 25)
        #expect(try db.scalar("SELECT through_seq FROM index_state") == 0)
    }
}
