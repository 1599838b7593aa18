import JITAuditCore

/// Which stored findings to list. Times are event times: `since` inclusive, `until` exclusive.
package struct FindingFilter: Sendable {
    package var since: Timestamp?
    package var until: Timestamp?
    package var rule: String?
    /// Compared as an identity (case-insensitive after trimming).
    package var actor: String?
    /// Severities to keep; empty keeps all.
    package var severities: [Severity] = []
    package var limit: Int?
    package init() {}
}

/// A finding as stored, with its evidence as JSON text (SPEC §3).
package struct StoredFinding: Sendable {
    package var id: String
    package var rule: String
    package var severity: String
    package var ts: Timestamp
    package var actor: String
    package var requestID: String?
    package var summary: String
    package var evidenceJSON: String
    package var recordedAt: Timestamp

    /// The finding as the SPEC §3 JSON object, byte for byte what `replay --format json` prints.
    package var json: String {
        var out = "{\"id\":" + JSONText.quote(id) + ",\"rule\":" + JSONText.quote(rule) + ",\"severity\":" + JSONText.quote(severity)
        out += ",\"ts\":" + JSONText.quote(ts.rfc3339) + ",\"actor\":" + JSONText.quote(actor)
        if let requestID { out += ",\"request_id\":" + JSONText.quote(requestID) }
        out += ",\"summary\":" + JSONText.quote(summary) + ",\"evidence\":" + evidenceJSON + "}"
        return out
    }
}

extension AuditStore {
    /// Stored findings matching `filter`, by event time then id.
    package func findings(_ filter: FindingFilter) throws(StoreError) -> [StoredFinding] {
        var sql = "SELECT id, rule, severity, ts, actor, request_id, summary, evidence, recorded_at FROM findings WHERE 1"
        var binds: [(Int32, Statement) -> Void] = []
        func add(_ clause: String, _ bind: @escaping (Int32, Statement) -> Void) {
            binds.append(bind)
            sql += " AND " + numbered(clause, Int32(binds.count))
        }
        if let v = filter.since { add("ts >= ?") { $1.bind($0, v.micros) } }
        if let v = filter.until { add("ts < ?") { $1.bind($0, v.micros) } }
        if let v = filter.rule { add("rule = ?") { $1.bind($0, v) } }
        if let v = filter.actor { let key = Identity.key(v); add("actor_key = ?") { $1.bind($0, key) } }
        if !filter.severities.isEmpty {
            sql += " AND severity IN (" + filter.severities.map { "'\($0.rawValue)'" }.joined(separator: ",") + ")"
        }
        sql += " ORDER BY ts, id"
        if let limit = filter.limit { sql += " LIMIT \(max(0, limit))" }
        let s = try conn.prepare(sql)
        for (i, b) in binds.enumerated() { b(Int32(i + 1), s) }
        var out: [StoredFinding] = []
        while try s.step() {
            out.append(StoredFinding(id: s.text(0) ?? "", rule: s.text(1) ?? "", severity: s.text(2) ?? "", ts: Timestamp(micros: s.int64(3)),
                                     actor: s.text(4) ?? "", requestID: s.text(5), summary: s.text(6) ?? "", evidenceJSON: s.text(7) ?? "{}",
                                     recordedAt: Timestamp(micros: s.int64(8))))
        }
        return out
    }
}
