/// Copies the keys of the newest events into `request_index` and
/// `actor_index` (see ``KeyIndexSchema``), sorted, so each touched page of
/// those tables is written once per merge rather than once per commit.
///
/// Two ways: in SQL, every event after the marker at once (a bulk load, which
/// keeps no keys in memory); or from the rows the writer kept, a range of
/// keys per commit (the daemon, see ``PartialMergeSchema``).
struct KeyIndexWriter {
    private let requests: Statement
    private let actors: Statement
    private let requestRow: Statement
    private let actorRow: Statement
    private let bucket: Statement
    private let requestsThrough: Statement
    private let actorsThrough: Statement
    private let requestsPartial: Statement
    private let actorsPartial: Statement
    private let bits: Int64

    init(conn: Connection) throws(StoreError) {
        let b = try Self.bucketBits(conn)
        bits = b
        // Events after the marker, bar those a merge under way wrote (?3, ?4; 0 and '' when none).
        requests = try conn.prepare("""
            INSERT INTO request_index SELECT seq >> \(b), request_id, ts, seq FROM events
            WHERE seq > ?1 AND seq <= ?2 AND NOT (seq <= ?3 AND request_id <= ?4) ORDER BY 1, 2, 3, 4
            """)
        actors = try conn.prepare("""
            INSERT INTO actor_index SELECT seq >> \(b), actor_key, ts, seq FROM events
            WHERE seq > ?1 AND seq <= ?2 AND NOT (seq <= ?3 AND actor_key <= ?4) ORDER BY 1, 2, 3, 4
            """)
        requestRow = try conn.prepare("INSERT INTO request_index (bucket, request_id, ts, seq) VALUES (?1, ?2, ?3, ?4)")
        actorRow = try conn.prepare("INSERT INTO actor_index (bucket, actor_key, ts, seq) VALUES (?1, ?2, ?3, ?4)")
        bucket = try conn.prepare("INSERT OR IGNORE INTO index_buckets (bucket) VALUES (?1)")
        func finish(_ t: BulkTable) -> String {
            "UPDATE index_state SET \(t.marker) = ?1, \(t.partialColumns.upTo) = ?1, \(t.partialColumns.key) = NULL WHERE id = 1"
        }
        func partial(_ t: BulkTable) -> String {
            "UPDATE index_state SET \(t.partialColumns.upTo) = ?1, \(t.partialColumns.key) = ?2 WHERE id = 1"
        }
        requestsThrough = try conn.prepare(finish(.requestIndex))
        actorsThrough = try conn.prepare(finish(.actorIndex))
        requestsPartial = try conn.prepare(partial(.requestIndex))
        actorsPartial = try conn.prepare(partial(.actorIndex))
    }

    /// Indexes events `(after, upTo]` (`after < upTo`) in `table`'s key table,
    /// in the open transaction, except those `skipping` says were written;
    /// moves the table's marker to `upTo`.
    func merge(_ table: BulkTable, after: Int64, upTo: Int64, skipping done: PartialMerge?) throws(StoreError) {
        let insert = table == .actorIndex ? actors : requests
        insert.bind(1, after); insert.bind(2, upTo)
        insert.bind(3, done?.upTo ?? 0); insert.bind(4, done?.key ?? "")
        try insert.run()
        try listBuckets(from: after + 1, to: upTo)
        try finish(table, upTo: upTo)
    }

    /// Writes rows the writer kept, in the open transaction.
    func write(_ table: BulkTable, _ rows: ArraySlice<KeyRow>) throws(StoreError) {
        guard let first = rows.first else { return }
        let insert = table == .actorIndex ? actorRow : requestRow
        var lo = first.seq, hi = first.seq
        for r in rows {
            insert.bind(1, r.seq >> bits); insert.bind(2, r.key); insert.bind(3, r.ts); insert.bind(4, r.seq)
            try insert.run()
            lo = min(lo, r.seq); hi = max(hi, r.seq)
        }
        try listBuckets(from: lo, to: hi)
    }

    /// Records how far a merge under way got (see ``PartialMergeSchema``).
    func record(_ table: BulkTable, _ p: PartialMerge) throws(StoreError) {
        let s = table == .actorIndex ? actorsPartial : requestsPartial
        s.bind(1, p.upTo); s.bind(2, p.key)
        try s.run()
    }

    /// Moves the table's marker to `upTo`, ending a merge.
    func finish(_ table: BulkTable, upTo: Int64) throws(StoreError) {
        let s = table == .actorIndex ? actorsThrough : requestsThrough
        s.bind(1, upTo)
        try s.run()
    }

    /// Both key tables list their buckets here (the second merge finds them present).
    private func listBuckets(from lo: Int64, to hi: Int64) throws(StoreError) {
        for b in (lo >> bits)...(hi >> bits) {
            bucket.bind(1, b)
            try bucket.run()
        }
    }

    /// The bucket width the store was created with (see ``KeyIndexSchema/bucketBits``).
    static func bucketBits(_ conn: Connection) throws(StoreError) -> Int64 {
        guard let v = try conn.scalarInt("SELECT bucket_bits FROM index_state WHERE id = 1") else {
            throw StoreError(.corrupt, "the index_state table has no row; the database was altered by hand", path: conn.path)
        }
        return v
    }
}
