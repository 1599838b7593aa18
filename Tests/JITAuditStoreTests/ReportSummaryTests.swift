import Foundation
import Testing
import JITAuditCore
@testable import JITAuditStore

/// A random audit log with the awkward cases of a real one: reused request
/// ids, decisions before their request (clock trouble), second decisions,
/// decisions for unknown requests, identity keys that differ only by case,
/// events arriving out of order and committed in uneven batches.
struct GeneratedLog {
    struct Line { var ts: Timestamp; var line: String }
    var lines: [Line] = []
    var first: Timestamp { lines.map(\.ts).min()! }
    var last: Timestamp { lines.map(\.ts).max()! }

    /// `ties`: some requests get two decisions at the same microsecond (the first
    /// decision is then the one stored first).
    init(seed: UInt64, requests: Int, ties: Bool = false) {
        var rng = SplitMix64(seed: seed)
        let people = ["alice", "Alice", "bob", "carol", "dave", " erin", "Erin", "frank", "grace"]
        let envs: [String?] = ["prod", "staging", "dev", nil, "Prod", "qa"]
        let priorities: [String?] = [nil, "low", "normal", "high", "critical"]
        var ids: [String] = []
        func add(_ t: Int64, _ kind: String, _ id: String, _ actor: String, _ extra: KeyValuePairs<String, String> = [:]) {
            let ts = Timestamp(micros: t)
            lines.append(Line(ts: ts, line: eventLine(ts.rfc3339, kind, id, actor, extra)))
        }
        var t = t0.micros
        for i in 0..<requests {
            t += Int64(rng.below(600)) * 1_000_000 + Int64(rng.below(1000)) * 1000
            let id = !ids.isEmpty && rng.below(100) < 3 ? ids[rng.below(ids.count)] : "r\(i)"
            ids.append(id)
            let requester = people[rng.below(people.count)]
            var fields: [(String, String)] = []
            if let e = envs[rng.below(envs.count)] { fields.append(("environment", e)) }
            if let p = priorities[rng.below(priorities.count)] { fields.append(("priority", p)) }
            if rng.below(4) == 0 { fields.append(("requester", requester.uppercased())) }
            let ts = Timestamp(micros: t)
            var line = eventLine(ts.rfc3339, "request", id, requester)
            if !fields.isEmpty {
                line.removeLast()
                line += fields.map { ",\"\($0.0)\":\"\($0.1)\"" }.joined() + "}"
            }
            lines.append(Line(ts: ts, line: line))
            let approver = people[rng.below(people.count)]
            let roll = rng.below(100)
            if roll < 80 {
                let before = rng.below(100) < 3
                let d = before ? t - Int64(rng.below(3600) + 1) * 1_000_000 : t + Int64(rng.below(14_400)) * 1_000_000 + Int64(rng.below(1000)) * 1000
                add(d, rng.below(5) == 0 ? "reject" : "approve", id, approver)
                if rng.below(10) == 0 {
                    let second = ties && rng.below(2) == 0 ? d : d + Int64(rng.below(3600) + 1) * 1_000_000
                    add(second, rng.below(2) == 0 ? "approve" : "reject", id, people[rng.below(people.count)])
                }
                if rng.below(2) == 0 { add(d + 60_000_000, "execute", id, requester) }
                if rng.below(10) == 0 { add(d + 7_200_000_000, "revoke", id, approver) }
            } else if roll < 88 {
                add(t + Int64(rng.below(7200)) * 1_000_000, "cancel", id, requester)
            } else if roll < 93 {
                add(t + 86_400_000_000, "expire", id, "jit-system")
            }
            if rng.below(100) < 2 { add(t + 1_000_000, "approve", "ghost-\(i)", approver) }
            if rng.below(100) < 2 { add(t + 5_000_000, "execute", id, requester) }
        }
        // Arrival order: time order with nearby lines swapped.
        lines.sort { $0.ts < $1.ts }
        for i in stride(from: 0, to: lines.count - 8, by: 1) where rng.below(5) == 0 {
            lines.swapAt(i, i + 1 + rng.below(7))
        }
    }

    /// Appends the log to `store`, committing after uneven batches.
    func append(to store: AuditStore, from: Int = 0, to end: Int? = nil, seed: UInt64 = 7) throws {
        var rng = SplitMix64(seed: seed)
        var untilCommit = 1 + rng.below(40)
        for (i, l) in lines[from..<(end ?? lines.count)].enumerated() {
            try store.append(try event(l.line), source: "/gen.jsonl", line: from + i + 1, offset: Int64(from + i) * 200, receivedAt: l.ts)
            untilCommit -= 1
            if untilCommit == 0 {
                try store.commit(at: l.ts)
                untilCommit = 1 + rng.below(40)
            }
        }
        try store.commit(at: last)
        // The index file's merges run on a thread of their own: wait for them.
        store.settleBulkTables()
    }
}


/// The summary tables as stored, and as recomputed from the events by the
/// migration's own SQL (in a transaction that is rolled back).
struct SummarySnapshot: Equatable {
    var requests: [[String]]
    var hours: [[String]]

    static func stored(_ db: TempDB) throws -> SummarySnapshot { try read(db, recompute: false) }
    static func recomputed(_ db: TempDB) throws -> SummarySnapshot { try read(db, recompute: true) }

    private static func read(_ db: TempDB, recompute: Bool) throws -> SummarySnapshot {
        let c = try Connection(path: db.path, readOnly: false, create: false)
        sqlite3BusyTimeout(c)
        try IndexFile.attach(c, path: IndexFile.path(for: db.path), as: "idx")
        try c.exec("BEGIN IMMEDIATE")
        defer { try? c.exec("ROLLBACK") }
        if recompute { try c.exec(SummarySchema.rebuild) }
        return SummarySnapshot(requests: try rows(c, "SELECT * FROM requests ORDER BY request_id"),
                               hours: try rows(c, "SELECT * FROM event_hours ORDER BY hour, event"))
    }

    static func rows(_ c: Connection, _ sql: String) throws -> [[String]] {
        let s = try c.prepare(sql)
        var out: [[String]] = []
        while try s.step() {
            out.append((0..<s.columnCount).map { s.text(Int32($0)) ?? "∅" })
        }
        return out
    }
}

@Suite("Report summaries")
struct ReportSummaryTests {
    static func request(_ since: Timestamp, _ until: Timestamp, summaries: Bool = true, wide: Bool = false) -> ReportRequest {
        var r = ReportFixture.request(since: since, until: until)
        r.useSummaries = summaries
        if wide { r.wideScanThreshold = 0 }
        return r
    }

    /// Periods that cut the log anywhere: whole history, halves, a few hours,
    /// odd microsecond edges, empty stretches.
    static func periods(_ log: GeneratedLog, seed: UInt64) -> [(Timestamp, Timestamp)] {
        var rng = SplitMix64(seed: seed)
        let a = log.first.micros, b = log.last.micros + 1
        var out: [(Timestamp, Timestamp)] = [(Timestamp(micros: a - 86_400_000_000), Timestamp(micros: b + 86_400_000_000)),
                                             (Timestamp(micros: a), Timestamp(micros: b)),
                                             (Timestamp(micros: (a + b) / 2), Timestamp(micros: b))]
        for _ in 0..<8 {
            let x = a + Int64(rng.next() % UInt64(b - a)), y = a + Int64(rng.next() % UInt64(b - a))
            if x != y { out.append((Timestamp(micros: min(x, y)), Timestamp(micros: max(x, y)))) }
        }
        // Short ones, which read the requests through their time index.
        for _ in 0..<4 {
            let x = a + Int64(rng.next() % UInt64(b - a)), len = Int64(rng.below(1800) + 60) * 1_000_000
            out.append((Timestamp(micros: x), Timestamp(micros: x + len)))
        }
        let h = SummarySchema.hourMicros
        out.append((Timestamp(micros: (a / h + 2) * h), Timestamp(micros: (a / h + 30) * h)))
        return out
    }

    /// The report from the summaries equals the one grouped from the events.
    static func expectSameReports(_ db: TempDB, _ log: GeneratedLog, seed: UInt64, wide: Bool = false,
                                  sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let store = try db.open(.read)
        for (since, until) in periods(log, seed: seed) {
            let fromEvents = try store.report(request(since, until, summaries: false, wide: wide))
            let fromSummaries = try store.report(request(since, until))
            // A Bool keeps a failure's message to the period (the two reports are long).
            let same = fromSummaries == fromEvents
            #expect(same, "period \(since.rfc3339) to \(until.rfc3339)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func theWriterKeepsTheSummariesEqualToTheEvents(seed: UInt64) throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: seed, requests: 400, ties: true)
        try log.append(to: try db.open(), seed: seed)
        // The newest events wait for the next bulk write; a new writer picks
        // them up from the log and writes them when it flushes.
        #expect(try db.scalar("SELECT summary_through FROM index_state")! < (try db.scalar("SELECT max(seq) FROM events"))!)
        try db.open().flushBulkTables()
        #expect(try db.scalar("SELECT summary_through FROM index_state") == (try db.scalar("SELECT max(seq) FROM events")))
        let stored = try SummarySnapshot.stored(db)
        #expect(stored.requests.count > 350)
        // The log has the rows the report recomputes from their events, and ghosts (decisions without a request).
        #expect(try db.scalar("SELECT count(*) FROM requests WHERE nreq > 1 OR cts < rts")! > 5)
        #expect(try db.scalar("SELECT count(*) FROM requests WHERE rts IS NULL")! > 0)
        #expect(stored == (try SummarySnapshot.recomputed(db)))
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func reportsFromTheSummariesEqualReportsFromTheEvents(seed: UInt64) throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: seed, requests: 600)
        try log.append(to: try db.open(), seed: seed)
        try Self.expectSameReports(db, log, seed: seed)
        try Self.expectSameReports(db, log, seed: seed + 100, wide: true)
    }

    @Test func lateEventsInALaterBatchUpdateTheirRequests() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 21, requests: 300, ties: true)
        // The log in two runs, the second starting with lines older than the first's newest.
        var late = log
        late.lines.sort { $0.ts < $1.ts }
        let cut = late.lines.count / 2
        late.lines = Array(late.lines[cut...]) + Array(late.lines[..<cut])
        let store = try db.open()
        try late.append(to: store, seed: 5)
        try store.flushBulkTables()
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
    }

    @Test func aRolledBackBatchLeavesNoSummary() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        let log = GeneratedLog(seed: 31, requests: 50)
        try log.append(to: store, to: 60)
        for (i, l) in log.lines[60...].enumerated() {
            try store.append(try event(l.line), source: "/gen.jsonl", line: 61 + i, offset: 0, receivedAt: l.ts)
        }
        store.rollback()
        try store.commit(at: t0)
        try store.flushBulkTables()
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        #expect(try db.scalar("SELECT sum(n) FROM event_hours") == 60)
    }

    @Test func pruneKeepsTheSummariesEqualToTheEvents() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 41, requests: 500, ties: true)
        let store = try db.open()
        try log.append(to: store, seed: 41)
        try store.commit(snapshot: EngineState(), at: log.last)  // prune never passes the snapshot
        let cutoff = Timestamp(micros: (log.first.micros + log.last.micros) / 2)
        let pruned = try store.prune(olderThan: cutoff, batchSize: 97, now: log.last)
        #expect(pruned.events > 0)
        #expect(try store.verifyChain().isIntact)
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
        // And after pruning everything.
        try store.prune(olderThan: Timestamp(micros: log.last.micros + 1), batchSize: 50, now: log.last)
        let empty = try SummarySnapshot.stored(db)
        #expect(empty.requests.isEmpty && empty.hours.isEmpty)
    }

    @Test func reportsAfterPruneEqualReportsFromTheEvents() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 51, requests: 500)
        let store = try db.open()
        try log.append(to: store, seed: 51)
        try store.commit(snapshot: EngineState(), at: log.last)
        #expect(try store.prune(olderThan: Timestamp(micros: (log.first.micros * 2 + log.last.micros) / 3), batchSize: 113, now: log.last).events > 0)
        try Self.expectSameReports(db, log, seed: 51)
    }

    /// A store as schema 1 left it: migrations 3 and 2 taken back by hand.
    static func downgradeToSchema1(_ db: TempDB) throws {
        try downgradeToSchema2(db)
        try db.sql("""
            DROP TABLE requests;
            DROP TABLE event_hours;
            DELETE FROM schema_migrations WHERE version = 2;
            PRAGMA user_version = 1;
            """)
    }

    @Test func migratingASchema1StoreBackfillsTheSummaries() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let log = GeneratedLog(seed: 61, requests: 500)
        try log.append(to: try db.open(), seed: 61)
        let expected = try SummarySnapshot.recomputed(db)
        try Self.downgradeToSchema1(db)
        #expect(try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name IN ('requests', 'event_hours')") == 0)
        // The report of the schema-1 store (a reader does not migrate)…
        let periods = Self.periods(log, seed: 61)
        let before = try periods.map { try db.open(.read).report(Self.request($0.0, $0.1)) }
        // …equals the one after the writer migrated it, from its summaries.
        let store = try db.open()
        #expect(try store.migrations().map(\.version) == [1, 2, 3, 4, 5, 6, 7])
        store.settleBulkTables()  // the index file is built on its writer's thread
        #expect(try SummarySnapshot.stored(db) == expected)
        #expect(try store.verifyChain().isIntact)
        let after = try periods.map { try db.open(.read).report(Self.request($0.0, $0.1)) }
        #expect(after == before)
        // Writing goes on into the migrated store.
        try GeneratedLog(seed: 62, requests: 50).append(to: store)
        try store.flushBulkTables()
        #expect(try SummarySnapshot.stored(db) == (try SummarySnapshot.recomputed(db)))
    }

    @Test func theFixtureGivesTheSameFiguresEveryWay() throws {
        let db = try TempDB(); defer { db.cleanup() }
        _ = try ReportFixture.make(db)
        let store = try db.open(.read)
        let summaries = try store.report(ReportFixture.request())
        var events = ReportFixture.request()
        events.useSummaries = false
        #expect(try store.report(events) == summaries)
        events.wideScanThreshold = 0
        #expect(try store.report(events) == summaries)
        // With the covering index an earlier version proposed (added by hand), read whole.
        try db.sql("""
            ALTER TABLE events ADD COLUMN environment TEXT GENERATED ALWAYS AS (json_extract(raw, '$.environment')) VIRTUAL;
            CREATE INDEX events_lifecycle ON events (request_id, ts, event, actor_key, requester, priority, environment);
            """)
        #expect(try db.open(.read).report(events) == summaries)
    }
}
