import Foundation
import Testing
@testable import JITAuditStore

/// Tampering by hand with `sqlite3`, and what `verifyChain` reports.
@Suite("Hash chain")
struct ChainTests {
    func filled(_ n: Int = 20) throws -> TempDB {
        let db = try TempDB()
        let store = try db.open()
        try appendEvents(store, n)
        return db
    }

    func report(_ db: TempDB) throws -> ChainReport { try db.open(.read).verifyChain() }

    @Test func intactChainVerifies() throws {
        let db = try filled(); defer { db.cleanup() }
        let r = try report(db)
        #expect(r.isIntact)
        #expect(r.rows == 20 && r.firstSeq == 1 && r.lastSeq == 20)
        #expect(r.headHash.count == 64)
    }

    @Test func emptyLogVerifies() throws {
        let db = try TempDB(); defer { db.cleanup() }
        _ = try db.open()
        #expect(try report(db).isIntact)
        #expect(try report(db).rows == 0)
    }

    @Test(arguments: [
        "UPDATE events SET actor = 'mallory' WHERE seq = 7",
        "UPDATE events SET raw = replace(raw, 'deploy', 'destroy') WHERE seq = 7",
        "UPDATE events SET ts = ts + 1 WHERE seq = 7",
        "UPDATE events SET received_at = 0 WHERE seq = 7",
        "UPDATE events SET source_ip = '10.0.0.1' WHERE seq = 7",
        "UPDATE events SET hash = zeroblob(32) WHERE seq = 7",
        "UPDATE events SET actor_key = 'x' WHERE seq = 7",
    ])
    func editIsCaught(_ sql: String) throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql(sql)
        let r = try report(db)
        #expect(r.problem?.seq == 7)
        #expect(r.problem?.description.contains("edited") == true)
        #expect(r.rows == 6)
    }

    @Test func editOfASourcePathIsCaughtAtItsFirstRow() throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql("UPDATE sources SET path = '/elsewhere'")
        #expect(try report(db).problem?.seq == 1)
    }

    @Test func deleteInTheMiddleIsCaught() throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql("DELETE FROM events WHERE seq = 12")
        let p = try report(db).problem
        #expect(p?.seq == 12)
        #expect(p?.description.contains("missing") == true)
    }

    @Test func deleteOfTheNewestRowsIsCaught() throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql("DELETE FROM events WHERE seq > 17")
        let p = try report(db).problem
        #expect(p?.seq == 18)
        #expect(p?.description.contains("newest rows were deleted") == true)
    }

    @Test func deleteOfTheOldestRowIsCaught() throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql("DELETE FROM events WHERE seq = 1")
        #expect(try report(db).problem?.seq == 1)
    }

    @Test func insertAfterTheHeadIsCaught() throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql("INSERT INTO events (seq, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash) "
                   + "SELECT 21, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash FROM events WHERE seq = 20")
        let p = try report(db).problem
        #expect(p?.seq == 21)
        #expect(p?.description.contains("inserted") == true)
    }

    @Test func insertWithAMovedHeadIsCaught() throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql("INSERT INTO events (seq, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash) "
                   + "SELECT 21, ts, event, request_id, 'mallory', 'mallory', priority, source_id, line, offset, received_at, raw, hash FROM events WHERE seq = 20;"
                   + "UPDATE chain SET head_seq = 21")
        #expect(try report(db).problem?.seq == 21)
    }

    @Test func insertBeforeTheFirstRowIsCaught() throws {
        let db = try filled(); defer { db.cleanup() }
        try db.sql("INSERT INTO events (seq, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash) "
                   + "SELECT 0, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash FROM events WHERE seq = 1")
        let p = try report(db).problem
        #expect(p?.seq == 0)
        #expect(p?.description.contains("inserted") == true)
    }

    @Test func replacingADeletedRowIsCaught() throws {
        let db = try filled(); defer { db.cleanup() }
        // Delete row 5 and put row 6's content at its place: the chain breaks at 5.
        try db.sql("DELETE FROM events WHERE seq = 5; INSERT INTO events (seq, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash) "
                   + "SELECT 5, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash FROM events WHERE seq = 6")
        #expect(try report(db).problem?.seq == 5)
    }

    @Test func chainContinuesAcrossReopen() throws {
        let db = try filled(5); defer { db.cleanup() }
        do {
            let store = try db.open()
            try appendEvents(store, 5, from: 5)
        }
        let r = try report(db)
        #expect(r.isIntact && r.rows == 10)
    }
}
