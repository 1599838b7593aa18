import JITAuditCore

/// Which audit-log rows to list. Times are event times: `since` inclusive, `until` exclusive.
package struct EventFilter: Sendable {
    package var requestID: String?
    /// Compared as an identity (case-insensitive after trimming).
    package var actor: String?
    package var since: Timestamp?
    package var until: Timestamp?
    package var limit: Int?
    package init() {}
}

/// One audit-log row.
package struct StoredEvent: Sendable {
    package var seq: Int64
    package var ts: Timestamp
    package var event: String
    package var requestID: String
    package var actor: String
    package var requester: String?
    package var priority: String
    package var sourceIP: String?
    package var deviceID: String?
    package var source: String
    package var line: Int
    package var offset: Int64
    package var receivedAt: Timestamp
    /// The line as received: the event's whole content.
    package var raw: [UInt8]
}

extension AuditStore {
    /// Audit-log rows matching `filter` in event-time order (arrival order among equal times).
    package func events(_ filter: EventFilter, _ body: (StoredEvent) throws -> Void) throws {
        var sql = """
            SELECT e.seq, e.ts, e.event, e.request_id, e.actor, e.requester, e.priority, e.source_ip, e.device_id,
                   s.path, e.line, e.offset, e.received_at, e.raw
            FROM events e JOIN sources s ON s.id = e.source_id WHERE 1
            """
        var n: Int32 = 0
        var binds: [(Statement) -> Void] = []
        func add(_ clause: String, _ bind: @escaping (Int32, Statement) -> Void) {
            n += 1
            let i = n
            binds.append { bind(i, $0) }
            sql += " AND " + numbered(clause, i)
        }
        let indexed = try conn.hasKeyIndex()
        if let v = filter.requestID {
            add(KeyIndexSchema.requestFilter("= ?", alias: "e", indexed: indexed)) { $1.bind($0, v) }
        }
        if let v = filter.actor {
            // The time bounds go into the lookup too, so an actor with many
            // events and a short window reads only that window's keys.
            func param(_ bind: @escaping (Int32, Statement) -> Void) -> String {
                n += 1
                let i = n
                binds.append { bind(i, $0) }
                return "?\(i)"
            }
            let key = Identity.key(v)
            var bounds: [String] = []
            if let since = filter.since { bounds.append("ts >= " + param { $1.bind($0, since.micros) }) }
            if let until = filter.until { bounds.append("ts < " + param { $1.bind($0, until.micros) }) }
            let keyParam = param { $1.bind($0, key) }
            sql += " AND " + KeyIndexSchema.actorFilter("= \(keyParam)", alias: "e", extra: bounds.joined(separator: " AND "), indexed: indexed)
        }
        if let v = filter.since { add("e.ts >= ?") { $1.bind($0, v.micros) } }
        if let v = filter.until { add("e.ts < ?") { $1.bind($0, v.micros) } }
        sql += " ORDER BY e.ts, e.seq"
        if let limit = filter.limit { sql += " LIMIT \(max(0, limit))" }
        let s = try conn.prepare(sql)
        for b in binds { b(s) }
        while try s.step() {
            try body(StoredEvent(seq: s.int64(0), ts: Timestamp(micros: s.int64(1)), event: s.text(2) ?? "", requestID: s.text(3) ?? "",
                                 actor: s.text(4) ?? "", requester: s.text(5), priority: s.text(6) ?? "", sourceIP: s.text(7),
                                 deviceID: s.text(8), source: s.text(9) ?? "", line: s.int(10), offset: s.int64(11),
                                 receivedAt: Timestamp(micros: s.int64(12)), raw: s.blob(13) ?? []))
        }
    }
}

/// `clause` with its `?` written as the numbered parameter `?index`.
func numbered(_ clause: String, _ index: Int32) -> String {
    var out = ""
    for c in clause { if c == "?" { out += "?\(index)" } else { out.append(c) } }
    return out
}
