/// Copies the keys of the newest events into `request_index` and
/// `actor_index` (see ``KeyIndexSchema``), sorted, so each touched page of
/// those tables is written once per merge rather than once per commit.
struct KeyIndexWriter {
    private let requests: Statement
    private let actors: Statement
    private let through: Statement
    private let bucket: Statement
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
        through = try conn.prepare("UPDATE index_state SET through_seq = ?1 WHERE id = 1")
    }

    /// Indexes events `(after, upTo]` (`after < upTo`), in the open transaction.
    func merge(after: Int64, upTo: Int64) throws(StoreError) {
        for s in [requests, actors] {
            s.bind(1, after); s.bind(2, upTo)
            try s.run()
        }
        for b in ((after + 1) >> bits)...(upTo >> bits) {
            bucket.bind(1, b)
            try bucket.run()
        }
        through.bind(1, upTo)
        try through.run()
    }

    /// The bucket width the store was created with (see ``KeyIndexSchema/bucketBits``).
    static func bucketBits(_ conn: Connection) throws(StoreError) -> Int64 {
        guard let v = try conn.scalarInt("SELECT bucket_bits FROM index_state WHERE id = 1") else {
            throw StoreError(.corrupt, "the index_state table has no row; the database was altered by hand", path: conn.path)
        }
        return v
    }

    /// How far the tables reach, as committed.
    static func through(_ conn: Connection) throws(StoreError) -> Int64 {
        guard let v = try conn.scalarInt("SELECT through_seq FROM index_state WHERE id = 1") else {
            throw StoreError(.corrupt, "the index_state table has no row; the database was altered by hand", path: conn.path)
        }
        return v
    }
}
