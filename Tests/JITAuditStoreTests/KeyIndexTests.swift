import Foundation
import Testing
import JITAuditCore
@testable import JITAuditStore

/// The bulk-filled lookup tables of migration 3 (``KeyIndexSchema``).
@Suite("Key tables")
struct KeyIndexTests {
    /// Seqs of one request's or actor's events, straight from `events` (no index involved).
    static func direct(_ db: TempDB, _ column: String, _ value: String) throws -> [Int64] {
        let c = try Connection(path: db.path, readOnly: true, create: false)
        let s = try c.prepare("SELECT seq FROM events WHERE \(column) = ?1 ORDER BY ts, seq")
        s.bind(1, value)
        var out: [Int64] = []
        while try s.step() { out.append(s.int64(0)) }
        return out
    }

    static func lookup(_ store: AuditStore, request: String? = nil, actor: String? = nil) throws -> [Int64] {
        var f = EventFilter()
        f.requestID = request
        f.actor = actor
        var out: [Int64] = []
        try store.events(f) { out.append($0.seq) }
        return out
    }

    /// A fresh store whose key tables use buckets of 8 events (so a small log spans many).
    static func narrowBuckets(_ db: TempDB, keyMerge: Int) throws -> AuditStore {
        _ = try db.open()
        try db.sql("UPDATE index_state SET bucket_bits = 3")
        return try db.open(keyMerge: keyMerge)
    }

    static func expectCompleteLookups(_ db: TempDB, _ store: AuditStore, _ log: GeneratedLog) throws {
        let ids = Set(try log.lines.map { try event($0.line).requestID })
        #expect(ids.count > 100)
        for id in ids { #expect(try lookup(store, request: id) == direct(db, "request_id", id), "request \(id)") }
        for actor in ["alice", "ALICE ", "bob", "erin", "jit-system", "nobody"] {
            #expect(try lookup(store, actor: actor) == direct(db, "actor_key", Identity.key(actor)), "actor \(actor)")
        }
    }

    @Test func lookupsFindMergedAndNewerEventsAlike() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 71, requests: 400)
        let store = try Self.narrowBuckets(db, keyMerge: 250)
        try log.append(to: store, seed: 71)
        let through = try #require(try db.scalar("SELECT through_seq FROM index_state"))
        let head = try #require(try db.scalar("SELECT max(seq) FROM events"))
        // Both halves are in use: merged rows and a tail after them.
        #expect(through >= 250 && through < head)
        #expect(try db.scalar("SELECT count(*) FROM request_index") == through)
        let actorThrough = try #require(try db.scalar("SELECT actor_through FROM index_state"))
        #expect(actorThrough >= 250 && actorThrough < head)
        #expect(try db.scalar("SELECT count(*) FROM actor_index") == actorThrough)
        #expect(try db.scalar("SELECT count(*) FROM index_buckets") == (max(through, actorThrough) >> 3) + 1)
        try Self.expectCompleteLookups(db, store, log)
        // An actor within a time window (the bounds go into the lookup).
        let lo = Timestamp(micros: (log.first.micros * 2 + log.last.micros) / 3), hi = Timestamp(micros: (log.first.micros + log.last.micros * 2) / 3)
        var f = EventFilter()
        f.actor = "Erin"
        f.since = lo
        f.until = hi
        var got: [Int64] = []
        try store.events(f) { got.append($0.seq) }
        let c = try Connection(path: db.path, readOnly: true, create: false)
        let s = try c.prepare("SELECT seq FROM events WHERE actor_key = 'erin' AND ts >= ?1 AND ts < ?2 ORDER BY ts, seq")
        s.bind(1, lo.micros); s.bind(2, hi.micros)
        var want: [Int64] = []
        while try s.step() { want.append(s.int64(0)) }
        #expect(!want.isEmpty && got == want)
        #expect(try store.verifyChain().isIntact)
    }

    /// The index file's writer merges all three tables together once one is
    /// `keyMerge` events behind the log, beside the log's commits (IndexFile).
    @Test func theMergesFollowTheLogsCommits() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open(keyMerge: 50)
        func markers() throws -> [Int64?] {
            store.settleBulkTables()
            return [try db.scalar("SELECT through_seq FROM index_state"), try db.scalar("SELECT actor_through FROM index_state"),
                    try db.scalar("SELECT summary_through FROM index_state")]
        }
        try appendEvents(store, 49)
        #expect(try markers() == [0, 0, 0])
        try appendEvents(store, 1, from: 49)
        #expect(try markers() == [50, 50, 50])
        try appendEvents(store, 10, from: 50)
        #expect(try markers() == [50, 50, 50])
        try appendEvents(store, 40, from: 60)
        #expect(try markers() == [100, 100, 100])
        try appendEvents(store, 2, from: 100)
        #expect(try markers() == [100, 100, 100])
        // Every lookup and the report summaries stay complete meanwhile
        // (each view adds the events after its own marker).
        let reader = try db.open(.read)
        #expect(reader.indexFileNote == nil)
        #expect(try reader.verifyChain().isIntact)
        var f = EventFilter()
        f.actor = "user3"
        var seen = 0
        try reader.events(f) { _ in seen += 1 }
        #expect(seen == 102 / 7 + (102 % 7 > 3 ? 1 : 0))
        // Uncommitted events never reach the index file.
        _ = try appendEvents(store, 60, from: 102, commit: false)
        store.rollback()
        try store.flushBulkTables()
        #expect(try markers() == [102, 102, 102])
        #expect(try store.verifyChain().isIntact)
    }

    @Test func aMergeRolledBackWithItsBatchLeavesTheTablesAsCommitted() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 72, requests: 100)
        let store = try db.open(keyMerge: 10)
        try log.append(to: store, to: 50, seed: 72)
        let through = try db.scalar("SELECT through_seq FROM index_state")
        #expect(through! >= 40)
        for (i, l) in log.lines[50..<80].enumerated() {
            try store.append(try event(l.line), source: "/gen.jsonl", line: 51 + i, offset: 0, receivedAt: l.ts)
        }
        store.rollback()
        store.settleBulkTables()
        #expect(try db.scalar("SELECT through_seq FROM index_state") == through)
        try log.append(to: store, from: 50, seed: 73)
        #expect(try db.scalar("SELECT count(*) FROM request_index") == (try db.scalar("SELECT through_seq FROM index_state")))
        try Self.expectCompleteLookups(db, store, log)
        #expect(try store.verifyChain().isIntact)
    }

    @Test func pruneTakesTheKeyRowsOfTheEventsItDeletes() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 73, requests: 400)
        let store = try Self.narrowBuckets(db, keyMerge: 100)
        try log.append(to: store, seed: 73)
        try store.commit(snapshot: EngineState(), at: log.last)
        let pruned = try store.prune(olderThan: Timestamp(micros: (log.first.micros + log.last.micros) / 2), batchSize: 37, now: log.last)
        #expect(pruned.events > 0)
        let kept = try #require(try db.scalar("SELECT count(*) FROM events WHERE seq <= (SELECT through_seq FROM index_state)"))
        #expect(try db.scalar("SELECT count(*) FROM request_index") == kept)
        #expect(try db.scalar("SELECT count(*) FROM actor_index") == kept)
        // Buckets wholly before the first kept row are gone from the list.
        let first = try #require(try db.scalar("SELECT min(seq) FROM events"))
        #expect(try db.scalar("SELECT min(bucket) FROM index_buckets") == first >> 3)
        #expect(try store.verifyChain().isIntact)
        try Self.expectCompleteLookups(db, store, log)
    }

    /// Editing the key tables hides or invents events in lookups while the
    /// hash chain stays intact: `verify` must still fail, naming the row.
    @Test(arguments: [
        ("DELETE FROM request_index WHERE seq = 40", "has no row in request_index"),
        ("DELETE FROM actor_index WHERE seq = 41", "has no row in actor_index"),
        ("UPDATE request_index SET request_id = 'other' WHERE seq = 42", "does not match"),
        ("UPDATE actor_index SET ts = ts + 1 WHERE seq = 43", "does not match"),
        ("UPDATE request_index SET bucket = bucket + 1 WHERE seq = 44", "does not match"),
        ("UPDATE actor_index SET bucket = 1000 WHERE seq = 45", "is in a bucket that index_buckets does not list"),
        ("DELETE FROM index_buckets", "is in a bucket that index_buckets does not list"),
        ("INSERT INTO request_index VALUES (0, 'ghost', 0, 999999)", "names no event"),
        ("UPDATE index_state SET through_seq = (SELECT max(seq) FROM events) + 1", "is past the newest row"),
        ("UPDATE index_state SET through_seq = through_seq - 1", "is past index_state.through_seq"),
        ("UPDATE index_state SET actor_through = (SELECT max(seq) FROM events) + 1", "index_state.actor_through is past the newest row"),
        ("UPDATE index_state SET actor_through = actor_through - 1", "is past index_state.actor_through"),
        ("UPDATE index_state SET summary_through = (SELECT max(seq) FROM events) + 1", "index_state.summary_through is past the newest row"),
    ])
    func verifyCatchesKeyTablesAlteredByHand(_ edit: String, _ message: String) throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 74, requests: 100)
        let store = try Self.narrowBuckets(db, keyMerge: 50)
        try log.append(to: store, seed: 74)
        #expect(try store.verifyChain().isIntact)
        try db.sql(edit)
        let report = try store.verifyChain()
        let problem = try #require(report.problem)
        #expect(problem.description.contains(message), "\(problem)")
    }

    @Test func migratingASchema2StoreFillsTheKeyTables() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 75, requests: 300)
        try log.append(to: try db.open(), seed: 75)
        try ReportSummaryTests.downgradeToSchema2(db)
        // A reader does not migrate: lookups use the old indexes.
        do {
            let reader = try db.open(.read)
            try Self.expectCompleteLookups(db, reader, log)
            #expect(try reader.verifyChain().isIntact)
        }
        let store = try db.open()
        #expect(try store.migrations().map(\.version) == [1, 2, 3, 4, 5, 6, 7])
        store.settleBulkTables()  // the index file is built on its writer's thread
        let head = try db.scalar("SELECT max(seq) FROM events")
        #expect(try db.scalar("SELECT through_seq FROM index_state") == head)
        #expect(try db.scalar("SELECT actor_through FROM index_state") == head)
        #expect(try db.scalar("SELECT summary_through FROM index_state") == head)
        #expect(try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name IN ('events_request', 'events_actor')") == 0)
        try Self.expectCompleteLookups(db, store, log)
        #expect(try store.verifyChain().isIntact)
    }
}

extension ReportSummaryTests {
    /// A store as schema 2 left it: migrations 7 to 3 taken back by hand
    /// (its summary tables rebuilt in the log's file, the index file gone).
    static func downgradeToSchema2(_ db: TempDB) throws {
        IndexFile.remove(IndexFile.path(for: db.path))
        let c = try Connection(path: db.path, readOnly: false, create: false)
        try c.exec("""
            DROP TABLE store_identity;
            DELETE FROM schema_migrations WHERE version = 7;
            CREATE TABLE requests (
                request_id TEXT NOT NULL UNIQUE, nreq INTEGER NOT NULL, rts INTEGER, requester TEXT, priority TEXT,
                environment TEXT, dts INTEGER, dkind TEXT, approver TEXT, cts INTEGER);
            CREATE INDEX requests_irregular ON requests (rts) WHERE nreq > 1 OR cts < rts;
            CREATE TABLE event_hours (hour INTEGER NOT NULL, event TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hour, event)) WITHOUT ROWID;
            \(SummarySchema.rebuild)
            DELETE FROM schema_migrations WHERE version = 6;
            DROP TABLE watermark_marks;
            DELETE FROM schema_migrations WHERE version = 5;
            DROP TABLE engine_snapshot_parts;
            ALTER TABLE engine_snapshot DROP COLUMN parts;
            ALTER TABLE engine_snapshot DROP COLUMN generation;
            DELETE FROM schema_migrations WHERE version = 4;
            CREATE INDEX events_request ON events (request_id, ts);
            CREATE INDEX events_actor ON events (actor_key, ts);
            DELETE FROM schema_migrations WHERE version = 3;
            PRAGMA user_version = 2;
            """)
    }
}
