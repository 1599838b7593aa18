import Foundation
import Testing
import JITAuditCore
@testable import JITAuditStore

/// Bulk merges written a range of keys per commit (``PartialMergeSchema``):
/// every commit leaves lookups, `verify` and the report exact, and a merge
/// cut by a restart or a rollback goes on where its last commit left it.
@Suite("Merges spread over commits")
struct PartialMergeTests {
    static let markers = ["request_key", "actor_key", "summary_key"]

    /// The key column of the merge under way, if any.
    static func underWay(_ db: TempDB) throws -> String? {
        try markers.first { try db.scalar("SELECT \($0) IS NOT NULL FROM index_state") == 1 }
    }

    /// A fresh store with buckets of 8 events, small merges and 3 keys per commit.
    static func open(_ db: TempDB, chunk: Int? = 3) throws -> AuditStore {
        if !FileManager.default.fileExists(atPath: db.path) {
            _ = try db.open()
            try db.sql("UPDATE index_state SET bucket_bits = 3")
        }
        return try db.open(keyMerge: 60, chunk: chunk)
    }

    static func append(_ log: GeneratedLog, _ range: Range<Int>, to store: AuditStore) throws {
        for i in range {
            let l = log.lines[i]
            try store.append(try event(l.line), source: "/gen.jsonl", line: i + 1, offset: Int64(i) * 200, receivedAt: l.ts)
        }
    }

    static func expectExact(_ db: TempDB, _ store: AuditStore, _ log: GeneratedLog, reports: Bool,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        #expect(try store.verifyChain().isIntact, sourceLocation: sourceLocation)
        let reader = try db.open(.read)
        // A sample of ids, and every key of the events a merge under way covers.
        var ids = Set(try log.lines.map { try event($0.line).requestID }.sorted().prefix(100))
        var actors: Set<String> = ["alice", "bob", "erin", "grace", "jit-system"]
        let c = try Connection(path: db.path, readOnly: true, create: false)
        let covered = try c.prepare("""
            SELECT e.request_id, e.actor_key FROM events e, index_state s
            WHERE (e.seq > s.through_seq AND e.seq <= s.request_upto) OR (e.seq > s.actor_through AND e.seq <= s.actor_upto)
            """)
        while try covered.step() { ids.insert(covered.string(0)); actors.insert(covered.string(1)) }
        // The views themselves (a lookup's `seq IN (…)` would hide a row they list twice).
        for (view, column, keys) in [("events_of_request", "request_id", ids), ("events_of_actor", "actor_key", actors)] {
            let rows = try c.prepare("SELECT seq FROM \(view) WHERE \(column) = ?1 ORDER BY seq")
            for key in keys {
                rows.bind(1, key)
                var got: [Int64] = []
                while try rows.step() { got.append(rows.int64(0)) }
                rows.reset()
                #expect(got == (try KeyIndexTests.direct(db, column, key)).sorted(), "\(view) \(key)", sourceLocation: sourceLocation)
            }
        }
        for id in ids {
            #expect(try KeyIndexTests.lookup(reader, request: id) == KeyIndexTests.direct(db, "request_id", id), "request \(id)",
                    sourceLocation: sourceLocation)
        }
        for actor in actors {
            #expect(try KeyIndexTests.lookup(reader, actor: actor) == KeyIndexTests.direct(db, "actor_key", actor), "actor \(actor)",
                    sourceLocation: sourceLocation)
        }
        if reports { try ReportSummaryTests.expectSameReports(db, log, seed: 5, sourceLocation: sourceLocation) }
    }

    @Test(arguments: [21, 22] as [UInt64])
    func everyCommitLeavesLookupsVerifyAndReportsExact(seed: UInt64) throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: seed, requests: 250, ties: true)
        let store = try Self.open(db)
        var rng = SplitMix64(seed: seed)
        var seen: Set<String> = []
        var i = 0, commits = 0
        while i < log.lines.count {
            let n = min(1 + rng.below(12), log.lines.count - i)
            try Self.append(log, i..<(i + n), to: store)
            i += n
            try store.commit(at: log.lines[i - 1].ts)
            commits += 1
            let merging = try Self.underWay(db)
            if let merging, !seen.contains(merging) || commits % 9 == 0 {
                // Mid-merge: some keys of the newest events in the table, the rest in the views' tail.
                seen.insert(merging)
                try Self.expectExact(db, store, log, reports: merging == "summary_key" && seen.count < 4)
                if merging == "summary_key" { seen.insert("report") }
            }
        }
        #expect(seen == Set(Self.markers + ["report"]), "every table was seen mid-merge")
        try store.flushBulkTables()
        #expect(try Self.underWay(db) == nil)
        let head = try #require(try db.scalar("SELECT max(seq) FROM events"))
        for marker in ["through_seq", "actor_through", "summary_through"] {
            #expect(try db.scalar("SELECT \(marker) FROM index_state") == head)
        }
        #expect(try db.scalar("SELECT count(*) FROM request_index") == head)
        #expect(try db.scalar("SELECT count(*) FROM actor_index") == head)
        #expect(try SummarySnapshot.stored(db) == SummarySnapshot.recomputed(db))
        try Self.expectExact(db, store, log, reports: true)
    }

    /// A restart (new writer, in either mode) or a rolled-back batch in the
    /// middle of a merge: the next commits finish it from where the last
    /// committed one left it, writing no key twice and none not at all.
    @Test(arguments: [3, nil] as [Int?])
    func aMergeCutByARestartOrARollbackGoesOn(chunkAfterRestart: Int?) throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 24, requests: 250)
        var i = 0
        var cut: Set<String> = []
        var rng = SplitMix64(seed: 24)
        var round = 0
        while i < log.lines.count {
            // Each round: a writer that commits until a merge is under way, then
            // goes away (every other one in the mode given, which may be whole
            // merges: it finishes the merge it found and goes on for a while).
            let chunk = round.isMultiple(of: 2) ? 3 : chunkAfterRestart
            round += 1
            let store = try Self.open(db, chunk: chunk)
            var merging: String?
            var commits = 0
            while i < log.lines.count && merging == nil && (chunk != nil || commits < 3) {
                let n = min(1 + rng.below(10), log.lines.count - i)
                try Self.append(log, i..<(i + n), to: store)
                i += n
                try store.commit(at: log.lines[i - 1].ts)
                commits += 1
                merging = try Self.underWay(db)
            }
            #expect(chunk != nil || merging == nil, "a writer of whole merges leaves none under way")
            guard let merging else { continue }
            cut.insert(merging)
            // A batch that fails is rolled back, merge step included.
            let before = try db.scalar("SELECT \(merging) FROM index_state")
            try Self.append(log, i..<min(i + 5, log.lines.count), to: store)
            store.rollback()
            #expect(try db.scalar("SELECT \(merging) FROM index_state") == before)
        }
        #expect(cut.count == 3, "every table's merge was cut: \(cut)")
        let store = try Self.open(db)
        try store.flushBulkTables()
        #expect(try Self.underWay(db) == nil)
        let head = try #require(try db.scalar("SELECT max(seq) FROM events"))
        #expect(head == Int64(log.lines.count))
        #expect(try db.scalar("SELECT count(*) FROM request_index") == head)
        #expect(try db.scalar("SELECT count(*) FROM actor_index") == head)
        #expect(try SummarySnapshot.stored(db) == SummarySnapshot.recomputed(db))
        try Self.expectExact(db, store, log, reports: true)
    }

    /// A merge's progress marker edited by hand hides keys from lookups (or
    /// shows them twice): `verify` names it.
    @Test func anEditedProgressMarkerFailsVerify() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 25, requests: 150)
        let store = try Self.open(db)
        var i = 0
        while try Self.underWay(db) != "request_key" {
            try Self.append(log, i..<(i + 3), to: store)
            i += 3
            try store.commit(at: log.lines[i - 1].ts)
        }
        #expect(try store.verifyChain().isIntact)
        try db.sql("UPDATE index_state SET request_key = ''")
        let problem = try #require(try store.verifyChain().problem)
        #expect(problem.description.contains("request_index row"), "\(problem)")
        try db.sql("UPDATE index_state SET request_key = 'zzz', actor_key = 'zzz', actor_upto = request_upto")
        #expect(try #require(try store.verifyChain().problem).description.contains("merges under way"))
    }
}
