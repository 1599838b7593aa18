/// Copies the keys of the newest events into `request_index` and
/// `actor_index` (see ``KeyIndexSchema``), sorted, so each touched page of
/// those tables is written once per merge rather than once per commit.
struct KeyIndexWriter {
    private let requests: Statement
    private let actors: Statement
    private let bucket: Statement
    private let requestsThrough: Statement
    private let actorsThrough: Statement
    private let bits: Int64

    init(conn: Connection) throws(StoreError) {
        let b = try Self.bucketBits(conn)
        bits = b
        requests = try conn.prepare("""
            INSERT INTO request_index SELECT seq >> \(b), request_id, ts, seq FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY 1, 2, 3, 4
            """)
        actors = try conn.prepare("""
            INSERT INTO actor_index SELECT seq >> \(b), actor_key, ts, seq FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY 1, 2, 3, 4
            """)
        bucket = try conn.prepare("INSERT OR IGNORE INTO index_buckets (bucket) VALUES (?1)")
        requestsThrough = try conn.prepare("UPDATE index_state SET \(BulkTable.requestIndex.marker) = ?1 WHERE id = 1")
        actorsThrough = try conn.prepare("UPDATE index_state SET \(BulkTable.actorIndex.marker) = ?1 WHERE id = 1")
    }

    /// Indexes events `(after, upTo]` (`after < upTo`) in `table`'s key table, in the open transaction.
    func merge(_ table: BulkTable, after: Int64, upTo: Int64) throws(StoreError) {
        precondition(table != .summaries, "the summaries are written by SummaryWriter")
        let (insert, through) = table == .actorIndex ? (actors, actorsThrough) : (requests, requestsThrough)
        insert.bind(1, after); insert.bind(2, upTo)
        try insert.run()
        // Both key tables list their buckets here (the second merge finds them present).
        for b in ((after + 1) >> bits)...(upTo >> bits) {
            bucket.bind(1, b)
            try bucket.run()
        }
        through.bind(1, upTo)
        try through.run()
    }

    /// The bucket width the store was created with (see ``KeyIndexSchema/bucketBits``).
    static func bucketBits(_ conn: Connection, schema: String? = nil) throws(StoreError) -> Int64 {
        guard let v = try conn.scalarInt("SELECT bucket_bits FROM \(schema.map { $0 + "." } ?? "")index_state WHERE id = 1") else {
            throw StoreError(.corrupt, "the index_state table has no row; the database was altered by hand", path: conn.path)
        }
        return v
    }
}
