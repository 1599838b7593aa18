/// The database schema as forward-only, named migrations.
///
/// A migration is never edited once released: a change is a new migration
/// appended to ``Schema/migrations``. Each runs in its own transaction and is
/// recorded in `schema_migrations`; `PRAGMA user_version` mirrors the latest
/// version so an older binary can refuse a newer file before touching it.
enum Schema {
    struct Migration {
        var version: Int
        var name: String
        var sql: String
    }

    /// `PRAGMA application_id`: "JITA", marks the file as a jitaudit store.
    static let applicationID: Int32 = 0x4A49_5441

    static var latestVersion: Int { migrations.last!.version }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "initial", sql: initial),
        Migration(version: 2, name: "report_summaries", sql: SummarySchema.migration),
        Migration(version: 3, name: "bulk_key_index", sql: KeyIndexSchema.migration),
        Migration(version: 4, name: "snapshot_parts", sql: SnapshotPartsSchema.migration),
        Migration(version: 5, name: "watermark_marks", sql: WatermarkSchema.migration),
        Migration(version: 6, name: "bulk_markers", sql: BulkMarkersSchema.migration),
        Migration(version: IndexFileMigration.version, name: "index_file", sql: IndexFileMigration.sql),
    ]

    // Every column of `events` except `hash` is covered by the hash chain (see
    // ``ChainHasher``). Fields the engine does not index (action, resource,
    // justification, …) stay in `raw` and are read with json_extract, as the
    // `audit_log` view does: generated columns would be computed on every
    // insert (SQLite evaluates them for the CHECK constraints), and `IN`
    // lists in CHECKs build a temporary table per row, so both are avoided.
    private static let initial = """
    CREATE TABLE sources (
        id    INTEGER PRIMARY KEY,
        path  TEXT NOT NULL UNIQUE CHECK (length(path) > 0)
    );

    CREATE TABLE events (
        seq          INTEGER PRIMARY KEY,
        ts           INTEGER NOT NULL,
        event        TEXT NOT NULL CHECK (event = 'request' OR event = 'approve' OR event = 'reject' OR event = 'execute'
                                          OR event = 'revoke' OR event = 'cancel' OR event = 'expire'),
        request_id   TEXT NOT NULL CHECK (request_id <> ''),
        actor        TEXT NOT NULL CHECK (actor <> ''),
        actor_key    TEXT NOT NULL,
        requester    TEXT,
        priority     TEXT NOT NULL CHECK (priority = 'normal' OR priority = 'high' OR priority = 'low' OR priority = 'critical'),
        source_ip    TEXT,
        device_id    TEXT,
        peer_pid     INTEGER,
        peer_uid     INTEGER,
        peer_gid     INTEGER,
        source_id    INTEGER NOT NULL REFERENCES sources(id),
        line         INTEGER NOT NULL CHECK (line >= 0),
        offset       INTEGER NOT NULL CHECK (offset >= 0),
        received_at  INTEGER NOT NULL,
        raw          TEXT NOT NULL CHECK (raw <> ''),
        hash         BLOB NOT NULL CHECK (length(hash) = 32)
    );
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_request ON events (request_id, ts);
    CREATE INDEX events_actor ON events (actor_key, ts);

    -- The hash chain's two ends: the newest row (head) and, after pruning, the
    -- hash the oldest kept row chains from (anchor). One row.
    CREATE TABLE chain (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        head_seq     INTEGER NOT NULL CHECK (head_seq >= 0),
        head_hash    BLOB NOT NULL CHECK (length(head_hash) = 32),
        anchor_seq   INTEGER NOT NULL CHECK (anchor_seq >= 1 AND anchor_seq <= head_seq + 1),
        anchor_hash  BLOB NOT NULL CHECK (length(anchor_hash) = 32)
    );
    INSERT INTO chain VALUES (1, 0, zeroblob(32), 1, zeroblob(32));

    CREATE TABLE rejections (
        id           INTEGER PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (length(kind) > 0),
        message      TEXT NOT NULL,
        source_id    INTEGER NOT NULL REFERENCES sources(id),
        line         INTEGER NOT NULL CHECK (line >= 0),
        offset       INTEGER NOT NULL CHECK (offset >= 0),
        raw          BLOB NOT NULL CHECK (length(raw) <= 4096),
        raw_length   INTEGER NOT NULL CHECK (raw_length >= length(raw)),
        peer_pid     INTEGER,
        peer_uid     INTEGER,
        peer_gid     INTEGER,
        received_at  INTEGER NOT NULL
    );
    CREATE INDEX rejections_received ON rejections (received_at);

    CREATE TABLE findings (
        n            INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE CHECK (length(id) > 0),
        rule         TEXT NOT NULL CHECK (length(rule) > 0),
        severity     TEXT NOT NULL CHECK (severity IN ('info','low','medium','high','critical')),
        ts           INTEGER NOT NULL,
        actor        TEXT NOT NULL,
        actor_key    TEXT NOT NULL,
        request_id   TEXT,
        summary      TEXT NOT NULL,
        evidence     TEXT NOT NULL CHECK (json_valid(evidence)),
        recorded_at  INTEGER NOT NULL
    );
    CREATE INDEX findings_ts ON findings (ts);

    -- Per file source: where it stands (resumed only when device, inode and
    -- fingerprint of the first line still match).
    CREATE TABLE checkpoints (
        source_id    INTEGER PRIMARY KEY REFERENCES sources(id),
        device       INTEGER NOT NULL,
        inode        INTEGER NOT NULL,
        fingerprint  INTEGER NOT NULL,
        offset       INTEGER NOT NULL CHECK (offset >= 0),
        line         INTEGER NOT NULL CHECK (line >= 1),
        updated_at   INTEGER NOT NULL
    );

    -- The engine's whole state (windows, timers, baselines, suppression) as of
    -- event `through_seq`; events after it are re-fed on resume. One row.
    CREATE TABLE engine_snapshot (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        format       TEXT NOT NULL,
        through_seq  INTEGER NOT NULL CHECK (through_seq >= 0),
        state        BLOB NOT NULL,
        taken_at     INTEGER NOT NULL
    );

    -- Readable views for sqlite3 users: times as RFC 3339 UTC.
    CREATE VIEW audit_log AS
        SELECT e.seq, strftime('%Y-%m-%dT%H:%M:%fZ', e.ts / 1000000.0, 'unixepoch') AS time, e.event, e.request_id,
               e.actor, e.requester, json_extract(e.raw, '$.action') AS action, json_extract(e.raw, '$.resource') AS resource,
               json_extract(e.raw, '$.environment') AS environment, e.priority,
               json_extract(e.raw, '$.justification') AS justification, json_extract(e.raw, '$.ticket') AS ticket,
               e.source_ip, e.device_id, json_extract(e.raw, '$.user_agent') AS user_agent,
               json_extract(e.raw, '$.outcome') AS outcome, json_extract(e.raw, '$.expires_at') AS expires_at,
               s.path AS source, e.line, e.offset,
               strftime('%Y-%m-%dT%H:%M:%fZ', e.received_at / 1000000.0, 'unixepoch') AS received, e.raw
        FROM events e JOIN sources s ON s.id = e.source_id;
    CREATE VIEW findings_log AS
        SELECT id, rule, severity, strftime('%Y-%m-%dT%H:%M:%fZ', ts / 1000000.0, 'unixepoch') AS time,
               actor, request_id, summary, evidence
        FROM findings;
    """
}
