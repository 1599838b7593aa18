/// Migration 6: each bulk-written table gets a marker of its own, so the
/// three merges can go into three different commits.
///
/// Until schema 5 the lookup tables and the report summaries were brought up
/// to date together, in the commit that reached
/// ``AuditStore/Options/keyMergeEvents``: at 50,000 events/s that commit took
/// 15–20 ms more than the others (summaries ~7 ms, each lookup table ~5 ms),
/// and a finding in it waited as long (`scripts/bench-live`). Now a commit
/// carries at most one of them, the one furthest behind, so the three follow
/// each other in consecutive commits.
///
/// - `index_state.through_seq`: `request_index` holds every event up to it;
/// - `index_state.actor_through`: `actor_index` likewise;
/// - `index_state.summary_through`: `requests` and `event_hours` count
///   every event up to it (the report adds the later ones itself).
enum BulkMarkersSchema {
    static let migration = """
    ALTER TABLE index_state ADD COLUMN actor_through INTEGER NOT NULL DEFAULT 0 CHECK (actor_through >= 0);
    ALTER TABLE index_state ADD COLUMN summary_through INTEGER NOT NULL DEFAULT 0 CHECK (summary_through >= 0);
    UPDATE index_state SET actor_through = through_seq, summary_through = through_seq;
    DROP VIEW events_of_actor;
    CREATE VIEW events_of_actor AS
        SELECT k.actor_key, k.ts, k.seq FROM index_buckets b CROSS JOIN actor_index k ON k.bucket = b.bucket
        UNION ALL
        SELECT actor_key, ts, seq FROM events WHERE seq > (SELECT actor_through FROM index_state WHERE id = 1);
    """
}

/// A table the writer fills in bulk, and the `index_state` column saying how far it reaches.
enum BulkTable: CaseIterable {
    case requestIndex, actorIndex, summaries

    var marker: String {
        switch self {
        case .requestIndex: "through_seq"
        case .actorIndex: "actor_through"
        case .summaries: "summary_through"
        }
    }

    /// How far the table reaches, as committed. A store of schema 3–5 has one
    /// marker for all three.
    /// `schema`: where `index_state` is (nil: as SQL resolves the name).
    func through(_ conn: Connection, schema: String? = nil) throws(StoreError) -> Int64 {
        let column = try conn.hasBulkMarkers(schema: schema) ? marker : BulkTable.requestIndex.marker
        guard let v = try conn.scalarInt("SELECT \(column) FROM \(schema.map { $0 + "." } ?? "")index_state WHERE id = 1") else {
            throw StoreError(.corrupt, "the index_state table has no row; the database was altered by hand", path: conn.path)
        }
        return v
    }
}

extension Connection {
    /// The store has the per-table markers of migration 6 (a reader may open an older store).
    func hasBulkMarkers(schema: String? = nil) throws(StoreError) -> Bool {
        let table = schema.map { "pragma_table_info('index_state', '\($0)')" } ?? "pragma_table_info('index_state')"
        return try scalarInt("SELECT count(*) FROM \(table) WHERE name = 'summary_through'") ?? 0 > 0
    }

    /// The store is of schema 7 or later: its key tables and summaries are in the index file (``IndexFile``).
    func hasIndexFileSchema() throws(StoreError) -> Bool {
        try scalarInt("PRAGMA main.user_version") ?? 0 >= IndexFileMigration.version
    }
}
