/// Migration 3: the audit log's lookups by request id and by actor move from
/// two indexes on `events` to two tables the writer fills in bulk.
///
/// An index on a random key (a request id, an actor) dirties a random leaf
/// page per event, and SQLite writes every dirtied page whole at each commit.
/// A live daemon commits every few milliseconds to keep findings prompt, so
/// those two indexes made it write 30–50 KB per event (scripts/bench-live),
/// most of its CPU time going to WAL frames. Now only `events` (appended in
/// seq order) and its `ts` index (nearly in order) are written per commit;
/// the newest events' keys are copied, sorted, into `request_index` and
/// `actor_index` once enough have accumulated (``AuditStore/Options/keyMergeEvents``),
/// in a commit's transaction (since schema 6 each table in a commit of its
/// own, see ``BulkMarkersSchema``; since schema 7 in the index file, by a
/// writer of its own, see ``IndexFile``).
///
/// `index_state.through_seq` says how far `request_index` reaches (and
/// `actor_through` for `actor_index`, since schema 6): every event with `seq`
/// at or before the marker has exactly one row, and no other row exists.
/// The views `events_of_request` and `events_of_actor` add the events after
/// it (a short scan by seq), so a lookup through them is always complete;
/// queries go through the views, and so can an auditor's own SQL.
/// `jitaudit verify` checks the tables against the log (a row deleted from
/// them would otherwise hide an event from `jitaudit events --request-id`).
enum KeyIndexSchema {
    /// Key rows are clustered by `bucket` = `seq >> bucketBits` first: a
    /// merge then inserts into the few pages of the newest bucket (and, in a
    /// bulk load, appends to empty ones) instead of into pages spread over the
    /// whole table, so its cost does not grow with the store. A lookup probes
    /// each bucket listed in `index_buckets` (one per 65,536 events). The
    /// width is kept in `index_state.bucket_bits`: the writer, prune and
    /// verify read it there (tests narrow it to get many buckets).
    static let bucketBits = 16

    static let migration = """
    CREATE TABLE index_state (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        through_seq  INTEGER NOT NULL CHECK (through_seq >= 0),
        bucket_bits  INTEGER NOT NULL CHECK (bucket_bits BETWEEN 0 AND 40)
    );
    CREATE TABLE index_buckets (
        bucket       INTEGER PRIMARY KEY
    );
    CREATE TABLE request_index (
        bucket      INTEGER NOT NULL,
        request_id  TEXT NOT NULL,
        ts          INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        PRIMARY KEY (bucket, request_id, ts, seq)
    ) WITHOUT ROWID;
    CREATE TABLE actor_index (
        bucket      INTEGER NOT NULL,
        actor_key   TEXT NOT NULL,
        ts          INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        PRIMARY KEY (bucket, actor_key, ts, seq)
    ) WITHOUT ROWID;
    INSERT INTO request_index SELECT seq >> \(bucketBits), request_id, ts, seq FROM events ORDER BY 1, 2, 3, 4;
    INSERT INTO actor_index SELECT seq >> \(bucketBits), actor_key, ts, seq FROM events ORDER BY 1, 2, 3, 4;
    INSERT INTO index_buckets SELECT DISTINCT seq >> \(bucketBits) FROM events;
    INSERT INTO index_state VALUES (1, coalesce((SELECT max(seq) FROM events), 0), \(bucketBits));
    DROP INDEX events_request;
    DROP INDEX events_actor;

    -- Complete lookups: each bucket of the bulk-filled table (CROSS JOIN keeps
    -- the bucket list outermost, so every bucket is one primary-key probe),
    -- plus the events after it.
    CREATE VIEW events_of_request AS
        SELECT k.request_id, k.ts, k.seq FROM index_buckets b CROSS JOIN request_index k ON k.bucket = b.bucket
        UNION ALL
        SELECT request_id, ts, seq FROM events WHERE seq > (SELECT through_seq FROM index_state WHERE id = 1);
    CREATE VIEW events_of_actor AS
        SELECT k.actor_key, k.ts, k.seq FROM index_buckets b CROSS JOIN actor_index k ON k.bucket = b.bucket
        UNION ALL
        SELECT actor_key, ts, seq FROM events WHERE seq > (SELECT through_seq FROM index_state WHERE id = 1);
    """

    /// A condition on `events` (columns unqualified or qualified by `alias`)
    /// selecting the rows whose request id satisfies `condition` (e.g. `= ?1`
    /// or `IN (SELECT …)`): through the key tables where the store has them,
    /// else on the column (a store of schema 2 opened by a reader, whose
    /// `events_request` index serves it).
    static func requestFilter(_ condition: String, alias: String = "", indexed: Bool) -> String {
        let p = alias.isEmpty ? "" : alias + "."
        return indexed ? "\(p)seq IN (SELECT seq FROM events_of_request WHERE request_id \(condition))" : "\(p)request_id \(condition)"
    }

    /// As ``requestFilter(_:alias:indexed:)``, on the actor key; `extra` is
    /// an optional further condition on the key rows' `ts`.
    static func actorFilter(_ condition: String, alias: String = "", extra: String = "", indexed: Bool) -> String {
        let p = alias.isEmpty ? "" : alias + "."
        let more = extra.isEmpty ? "" : " AND \(extra)"
        return indexed ? "\(p)seq IN (SELECT seq FROM events_of_actor WHERE actor_key \(condition)\(more))" : "\(p)actor_key \(condition)"
    }
}

extension Connection {
    /// The store has the key tables of migration 3 (a reader may open an older store).
    func hasKeyIndex() throws(StoreError) -> Bool {
        // Since schema 7 the views are the connection's own (``IndexFile``).
        try scalarInt("SELECT (SELECT count(*) FROM sqlite_temp_schema WHERE type = 'view' AND name = 'events_of_request') "
                      + "+ (SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name = 'events_of_request')") ?? 0 > 0
    }
}
