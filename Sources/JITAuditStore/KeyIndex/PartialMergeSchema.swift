#if canImport(Glibc)
import Glibc
#endif

/// Migration 7: a bulk merge may be spread over several commits, a range of
/// keys at a time.
///
/// Each of the three merges (``BulkTable``) took 5–8 ms in one commit at
/// 50,000 events/s (`scripts/bench-live`), and every finding of the events in
/// that commit, or arriving meanwhile, waited as long: one commit in ten was
/// a merge, which set the event-to-finding p90. The daemon now writes a merge
/// in key order, a few hundred keys per commit (``AuditStore/Options/mergeChunkRows``).
/// A range of keys touches only its own part of the table's pages, so the
/// pages written per merge stay what they were.
///
/// While a merge of table *t* is under way, `index_state` says how far it got:
///
/// - `<t>_upto`: the merge covers the events after *t*'s marker up to this seq;
/// - `<t>_key`: those whose key (request id, actor key) is at or before this
///   one, in byte order, are in the table already; NULL when no merge is under way.
///
/// The views leave those events out of their tail, so lookups stay exact
/// after every commit; `verify` accepts their rows. The report needs no
/// change: it recomputes every request with an event after the summaries'
/// marker from its events, and `event_hours` is written with the merge's
/// last range, together with the marker.
enum PartialMergeSchema {
    static let migration = """
    ALTER TABLE index_state ADD COLUMN request_upto INTEGER NOT NULL DEFAULT 0 CHECK (request_upto >= 0);
    ALTER TABLE index_state ADD COLUMN request_key TEXT;
    ALTER TABLE index_state ADD COLUMN actor_upto INTEGER NOT NULL DEFAULT 0 CHECK (actor_upto >= 0);
    ALTER TABLE index_state ADD COLUMN actor_key TEXT;
    ALTER TABLE index_state ADD COLUMN summary_upto INTEGER NOT NULL DEFAULT 0 CHECK (summary_upto >= 0);
    ALTER TABLE index_state ADD COLUMN summary_key TEXT;
    DROP VIEW events_of_request;
    CREATE VIEW events_of_request AS
        SELECT k.request_id, k.ts, k.seq FROM index_buckets b CROSS JOIN request_index k ON k.bucket = b.bucket
        UNION ALL
        SELECT request_id, ts, seq FROM events
        WHERE seq > (SELECT through_seq FROM index_state WHERE id = 1)
          AND NOT (seq <= (SELECT request_upto FROM index_state WHERE id = 1)
                   AND request_id <= (SELECT coalesce(request_key, '') FROM index_state WHERE id = 1));
    DROP VIEW events_of_actor;
    CREATE VIEW events_of_actor AS
        SELECT k.actor_key, k.ts, k.seq FROM index_buckets b CROSS JOIN actor_index k ON k.bucket = b.bucket
        UNION ALL
        SELECT actor_key, ts, seq FROM events
        WHERE seq > (SELECT actor_through FROM index_state WHERE id = 1)
          AND NOT (seq <= (SELECT actor_upto FROM index_state WHERE id = 1)
                   AND actor_key <= (SELECT coalesce(actor_key, '') FROM index_state WHERE id = 1));
    """
}

/// Where a merge spread over commits got to (see ``PartialMergeSchema``).
struct PartialMerge: Equatable {
    /// The merge covers the events after the table's marker up to this seq.
    var upTo: Int64
    /// Of those, the ones whose key is at or before this one (byte order) are written.
    var key: String
}

extension BulkTable {
    /// The `index_state` columns of a merge under way (schema 7).
    var partialColumns: (upTo: String, key: String) {
        switch self {
        case .requestIndex: ("request_upto", "request_key")
        case .actorIndex: ("actor_upto", "actor_key")
        case .summaries: ("summary_upto", "summary_key")
        }
    }

    /// The committed merge under way, if any (never on a store older than schema 7).
    func partial(_ conn: Connection) throws(StoreError) -> PartialMerge? {
        guard try conn.hasPartialMerges() else { return nil }
        let (upTo, key) = partialColumns
        let s = try conn.prepare("SELECT \(upTo), \(key) FROM index_state WHERE id = 1")
        guard try s.step(), !s.isNull(1) else { return nil }
        return PartialMerge(upTo: s.int64(0), key: s.string(1))
    }
}

extension Connection {
    /// The store has the merge-progress columns of migration 7 (a reader may open an older store).
    func hasPartialMerges() throws(StoreError) -> Bool {
        try scalarInt("SELECT count(*) FROM pragma_table_info('index_state') WHERE name = 'summary_key'") ?? 0 > 0
    }
}

/// Compares the UTF-8 forms byte by byte (negative, zero, positive), as
/// SQLite's `BINARY` collation does: the order of the key tables and of the
/// `<t>_key` comparisons in the views. (`String`'s own `<` and `==` treat
/// canonically equivalent spellings as equal, SQLite does not.)
@inline(__always)
func utf8Compare(_ a: String, _ b: String) -> Int {
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            let n = min(x.count, y.count)
            if n > 0, let p = x.baseAddress, let q = y.baseAddress {
                let c = memcmp(p, q, n)
                if c != 0 { return Int(c) }
            }
            return x.count - y.count
        }
    }
}
