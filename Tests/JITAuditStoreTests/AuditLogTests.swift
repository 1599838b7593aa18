import Foundation
import Testing
@testable import JITAuditStore

@Suite("Audit log")
struct AuditLogTests {
    @Test func storesEveryColumn() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        let line = eventLine("2026-03-02T15:07:11.250+01:00", "approve", "req-1", "  Alice ", [
            "requester": "bob", "action": "deploy", "resource": "payments-api", "environment": "prod",
            "source_ip": "2001:0db8:0:0:0:0:0:1", "device_id": "dev-1", "justification": "hotfix for INC-7", "extra": "kept",
        ])
        try store.append(try event(line), source: "/logs/a.jsonl", line: 7, offset: 700,
                         peer: PeerCredentials(pid: 42, uid: 1000, gid: 100), receivedAt: t0)
        try store.commit(at: t0)
        let s = try store.conn.prepare("""
            SELECT seq, events.ts, events.event, events.request_id, events.actor, actor_key, events.requester, events.priority, events.source_ip, events.device_id, peer_pid, peer_uid, peer_gid,
                   events.line, events.offset, received_at, action, resource, environment, justification, events.raw, length(hash)
            FROM events JOIN audit_log USING (seq)
            """)
        #expect(try s.step())
        #expect(s.int64(0) == 1)
        #expect(Timestamp(micros: s.int64(1)).rfc3339 == "2026-03-02T14:07:11.250Z")
        #expect(s.text(2) == "approve")
        #expect(s.text(3) == "req-1")
        #expect(s.text(4) == "Alice")
        #expect(s.text(5) == "alice")
        #expect(s.text(6) == "bob")
        #expect(s.text(7) == "normal")
        #expect(s.text(8) == "2001:db8::1")
        #expect(s.text(9) == "dev-1")
        #expect([s.int64(10), s.int64(11), s.int64(12)] == [42, 1000, 100])
        #expect(s.int64(13) == 7 && s.int64(14) == 700 && s.int64(15) == t0.micros)
        #expect(s.text(16) == "deploy" && s.text(17) == "payments-api" && s.text(18) == "prod")
        #expect(s.text(19) == "hotfix for INC-7")
        #expect(s.text(20) == line)
        #expect(s.int64(21) == 32)
        let path = try store.conn.prepare("SELECT source FROM audit_log")
        #expect(try path.step())
        #expect(path.text(0) == "/logs/a.jsonl")
    }

    @Test func requesterDefaultsToActorOnRequest() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try store.append(try event(eventLine("2026-03-02T14:00:00Z", "request", "r", "Carol", ["priority": "high"])),
                         source: "s", line: 1, offset: 0, receivedAt: t0)
        try store.commit(at: t0)
        let s = try store.conn.prepare("SELECT requester, priority FROM events")
        #expect(try s.step())
        #expect(s.text(0) == "Carol" && s.text(1) == "high")
    }

    @Test func uncommittedWorkIsInvisibleAndRolledBack() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 5)
        try appendEvents(store, 5, from: 5, commit: false)
        #expect(store.pendingEvents == 5)
        #expect(try db.open(.read).count("events") == 5)
        store.rollback()
        #expect(try store.count("events") == 5)
        // The chain continues from the committed head.
        try appendEvents(store, 2, from: 10)
        #expect(try store.verifyChain().isIntact)
        #expect(try store.verifyChain().rows == 7)
    }

    @Test func failedBatchLeavesNothingBehind() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 3)
        // Fail the third insert of the next batch, as a full disk would.
        try store.conn.exec("""
            CREATE TEMP TRIGGER fail AFTER INSERT ON main.events WHEN NEW.seq = 6 BEGIN SELECT RAISE(FAIL, 'disk full'); END
            """)
        let e = storeError { try appendEvents(store, 5, from: 3) }
        #expect(e != nil)
        #expect(try store.count("events") == 3)
        try store.conn.exec("DROP TRIGGER temp.fail")
        try appendEvents(store, 5, from: 3)
        #expect(try store.verifyChain().rows == 8)
    }

    @Test func diskFullIsAStoreErrorAndTheBatchIsGone() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        try appendEvents(store, 10)
        let pages = try store.conn.scalarInt("PRAGMA page_count")!
        try store.conn.exec("PRAGMA max_page_count = \(pages + 2)")
        let e = storeError { try appendEvents(store, 2_000, from: 10) }
        #expect(e?.code == .full)
        #expect(e?.description.contains("disk is full") == true)
        #expect(try store.count("events") == 10)
        #expect(try store.verifyChain().isIntact)
    }

    @Test func eventsListARequestLifecycleInTimeOrder() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        let lines = [
            eventLine("2026-03-02T14:00:05Z", "approve", "req-9", "Bob"),
            eventLine("2026-03-02T14:00:00Z", "request", "req-9", "alice"),
            eventLine("2026-03-02T14:00:01Z", "request", "req-other", "alice"),
            eventLine("2026-03-02T14:01:00Z", "execute", "req-9", "alice", ["outcome": "success"]),
        ]
        for (i, l) in lines.enumerated() { try store.append(try event(l), source: "s", line: i + 1, offset: Int64(i), receivedAt: t0) }
        try store.commit(at: t0)
        var f = EventFilter()
        f.requestID = "req-9"
        var kinds: [String] = []
        try store.events(f) { kinds.append($0.event) }
        #expect(kinds == ["request", "approve", "execute"])
        f = EventFilter()
        f.actor = "BOB"
        var actors: [String] = []
        try store.events(f) { actors.append($0.actor) }
        #expect(actors == ["Bob"])
        f = EventFilter()
        f.actor = "alice"
        f.since = RFC3339.parse("2026-03-02T14:00:01Z")
        f.until = RFC3339.parse("2026-03-02T14:01:00Z")
        var ids: [String] = []
        try store.events(f) { ids.append($0.requestID) }
        #expect(ids == ["req-other"])
    }
}
