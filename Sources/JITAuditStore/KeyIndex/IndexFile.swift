import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// The index file, `<database>-index`: since schema 7 the lookup tables
/// (``KeyIndexSchema``) and the report summaries (``SummarySchema``) live in
/// a second SQLite file beside the audit log, written by a writer of its own
/// (``BulkWriter``).
///
/// SQLite allows one writer per database file. With these tables in the audit
/// log's file, their bulk merges (4–7 ms each per 4,096 events) held the
/// log's only write lock, and every finding waiting for its batch's commit
/// waited behind them: at 50,000 events/s they were most of the p90. In a file
/// of their own they are written on another core while the log commits on.
///
/// Everything in it is derived from the audit log, so it is never backed up
/// or trusted on its own: `index_state` names the log it belongs to
/// (`store_token`, from the log's `store_identity`) and the chain anchor it
/// was pruned to. A writer opening the store rebuilds the file, on the index
/// writer's thread (``BulkWriter``), when it is missing, unreadable, from
/// another log, pruned differently (a crash between the two files' commits),
/// ahead of the log (the log lost its last commits in a power cut) or far
/// behind it; when it is a little behind, it catches up. Readers use it
/// only when it matches; otherwise every lookup and the report read the log
/// itself (the same answers, slower).
enum IndexFile {
    /// `PRAGMA application_id` of an index file: "JITI".
    static let applicationID: Int32 = 0x4A49_5449
    static let version = 1

    /// Where the index file of the database at `path` lives.
    static func path(for database: String) -> String { database + "-index" }

    /// The tables, created empty (``fill`` then loads them from the log).
    static let schema = """
    CREATE TABLE index_state (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        through_seq      INTEGER NOT NULL CHECK (through_seq >= 0),     -- request_index holds every event up to it
        bucket_bits      INTEGER NOT NULL CHECK (bucket_bits BETWEEN 0 AND 40),
        actor_through    INTEGER NOT NULL CHECK (actor_through >= 0),   -- actor_index likewise
        summary_through  INTEGER NOT NULL CHECK (summary_through >= 0), -- requests and event_hours count every event up to it
        store_token      BLOB NOT NULL,                                 -- the log's store_identity.token
        anchor_seq       INTEGER NOT NULL                               -- the log's chain.anchor_seq it was pruned to
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
    CREATE TABLE requests (
        request_id   TEXT NOT NULL UNIQUE,
        nreq         INTEGER NOT NULL,
        rts          INTEGER,
        requester    TEXT,
        priority     TEXT,
        environment  TEXT,
        dts          INTEGER,
        dkind        TEXT,
        approver     TEXT,
        cts          INTEGER
    );
    CREATE INDEX requests_irregular ON requests (rts) WHERE nreq > 1 OR cts < rts;
    CREATE TABLE event_hours (
        hour   INTEGER NOT NULL,
        event  TEXT NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (hour, event)
    ) WITHOUT ROWID;
    """

    static let tables = ["index_state", "index_buckets", "request_index", "actor_index", "requests", "event_hours"]

    /// Loads every table from the log's events through `head` (the log is
    /// attached as `log`; `events` resolves to it, the index file having
    /// none) into the emptied tables, and moves the markers there.
    static func fill(bucketBits b: Int, through head: Int64) -> String {
        """
        INSERT INTO request_index SELECT seq >> \(b), request_id, ts, seq FROM log.events WHERE seq <= \(head) ORDER BY 1, 2, 3, 4;
        INSERT INTO actor_index SELECT seq >> \(b), actor_key, ts, seq FROM log.events WHERE seq <= \(head) ORDER BY 1, 2, 3, 4;
        INSERT INTO index_buckets SELECT DISTINCT seq >> \(b) FROM log.events WHERE seq <= \(head);
        \(SummarySchema.requestsSQL(filter: "seq <= \(head)"))
        INSERT INTO event_hours (hour, event, n)
            SELECT \(SummarySchema.hourSQL("ts")) AS h, event, count(*) FROM log.events WHERE seq <= \(head) GROUP BY h, event;
        UPDATE index_state SET through_seq = \(head), actor_through = \(head), summary_through = \(head) WHERE id = 1;
        """
    }

    /// Complete lookups, as views of the connection (`TEMP`: a view in one
    /// file cannot read another): each bucket of the key table (CROSS JOIN
    /// keeps the bucket list outermost, so every bucket is one primary-key
    /// probe), plus the events after its marker. An auditor with `sqlite3`
    /// runs the same after `ATTACH 'audit.db-index' AS idx` (docs/store.md).
    static let views = """
    CREATE TEMP VIEW IF NOT EXISTS events_of_request AS
        SELECT k.request_id, k.ts, k.seq FROM index_buckets b CROSS JOIN request_index k ON k.bucket = b.bucket
        UNION ALL
        SELECT request_id, ts, seq FROM events WHERE seq > (SELECT through_seq FROM index_state WHERE id = 1);
    CREATE TEMP VIEW IF NOT EXISTS events_of_actor AS
        SELECT k.actor_key, k.ts, k.seq FROM index_buckets b CROSS JOIN actor_index k ON k.bucket = b.bucket
        UNION ALL
        SELECT actor_key, ts, seq FROM events WHERE seq > (SELECT actor_through FROM index_state WHERE id = 1);
    """

    static let dropViews = "DROP VIEW IF EXISTS temp.events_of_request; DROP VIEW IF EXISTS temp.events_of_actor;"

    /// Why the index file attached as `schema` on `conn` cannot serve the log
    /// attached as `log` (nil when it can): the reasons a writer rebuilds it.
    static func mismatch(_ conn: Connection, schema: String, log: String) throws(StoreError) -> String? {
        guard try conn.scalarInt("PRAGMA \(schema).application_id") == Int64(applicationID),
              try conn.scalarInt("PRAGMA \(schema).user_version") == Int64(version) else {
            return "it has no jitaudit index schema"
        }
        let s = try conn.prepare("""
            SELECT s.store_token = i.token, s.anchor_seq = c.anchor_seq,
                   max(s.through_seq, s.actor_through, s.summary_through) <= c.head_seq
            FROM \(schema).index_state s, \(log).chain c, \(log).store_identity i WHERE s.id = 1
            """)
        guard try s.step() else { return "its index_state row is missing" }
        if s.int(0) != 1 { return "it belongs to another audit log" }
        if s.int(1) != 1 { return "it was pruned to another row than the audit log (an interrupted prune)" }
        if s.int(2) != 1 { return "it is ahead of the audit log (the log lost its last commits)" }
        return nil
    }

    /// Attaches the index file to a reader's connection as `idx`, with the
    /// lookup views. When it is missing or does not match the log, empty
    /// `TEMP` stand-ins (found first by name) take its place, with every
    /// marker at 0: lookups and the report then read the log itself. Returns
    /// why the file is not used, if it is not, and whether it stays attached
    /// (an index file of this log, for `verify` to check).
    static func attachForReading(_ conn: Connection, path: String) throws(StoreError) -> (note: String?, attached: Bool) {
        var problem: String?
        var attached = false
        if access(path, F_OK) != 0 {
            problem = "the index file \(path) is missing; lookups and reports read the audit log instead (slower) until a writer rebuilds it"
        } else {
            do {
                try attach(conn, path: path, as: "idx")
                attached = true
                // The index file's snapshot first, then the log's: a writer
                // merges only committed events, so the log then reaches at
                // least as far as the index file.
                try conn.exec("BEGIN")
                defer { try? conn.exec("COMMIT") }
                _ = try conn.scalarInt("SELECT count(*) FROM idx.sqlite_schema")
                _ = try conn.scalarInt("SELECT count(*) FROM main.sqlite_schema")
                if let why = try mismatch(conn, schema: "idx", log: "main") {
                    problem = "the index file \(path) is not used (\(why)); lookups and reports read the audit log instead until a writer rebuilds it"
                    // One of this log and prune stays attached for `verify`
                    // (ahead of the log: altered, or the log lost commits).
                    attached = try conn.scalarInt("""
                        SELECT count(*) FROM idx.index_state s, main.store_identity i, main.chain c
                        WHERE s.id = 1 AND s.store_token = i.token AND s.anchor_seq = c.anchor_seq
                        """) == 1
                }
            } catch {
                problem = "the index file \(path) cannot be read (\(error.message)); lookups and reports read the audit log instead"
                attached = false
            }
            if !attached { try? conn.exec("DETACH DATABASE idx") }
        }
        if problem != nil {
            try conn.exec("""
                \(schema.replacingOccurrences(of: "CREATE TABLE ", with: "CREATE TEMP TABLE ")
                    .replacingOccurrences(of: "CREATE INDEX requests_irregular", with: "CREATE INDEX temp.requests_irregular"))
                INSERT INTO temp.index_state VALUES (1, 0, \(KeyIndexSchema.bucketBits), 0, 0, x'', 0);
                """, "standing in for the index file")
        }
        try conn.exec(views, "creating the lookup views")
        return (problem, attached)
    }

    static func attach(_ conn: Connection, path: String, as name: String) throws(StoreError) {
        let s = try conn.prepare("ATTACH DATABASE ?1 AS \(name)")
        s.bind(1, path)
        try s.run()
    }

    /// Removes an index file and its write-ahead log (it is rebuilt from the log).
    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }
}

/// Migration 7: the lookup tables and the report summaries leave the audit
/// log's file for the index file (``IndexFile``), which the writer then builds
/// from the events; the log gets the token that ties an index file to it.
enum IndexFileMigration {
    static let version = 7
    static let sql = """
    DROP VIEW events_of_request;
    DROP VIEW events_of_actor;
    DROP TABLE request_index;
    DROP TABLE actor_index;
    DROP TABLE index_buckets;
    DROP TABLE index_state;
    DROP TABLE requests;
    DROP TABLE event_hours;
    CREATE TABLE store_identity (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        token  BLOB NOT NULL CHECK (length(token) = 16)
    );
    INSERT INTO store_identity VALUES (1, randomblob(16));
    """
}
