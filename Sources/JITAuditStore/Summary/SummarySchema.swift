/// Migration 2's tables and the SQL that recomputes them from the events.
///
/// The report over a long period used to group every event of the period by
/// request. The writer now keeps, in the same transaction as the events:
///
/// - `requests`: one row per request id (of an id's `request`, `approve`,
///   `reject`, `cancel` and `expire` events): how many `request` events it
///   has, the first one's time and fields, the first decision (time, kind,
///   decider; at the same microsecond, the event stored first) and the first
///   closing event's time.
///   Every field is a count, a min or the payload of a min, so the writer can
///   merge a batch into a row in any order (late and out-of-order events
///   included) and prune can recompute the ids it touched;
/// - `event_hours`: events per UTC clock hour and type.
///
/// A request is *regular* when it has one `request` event and nothing closed
/// it before that event: then its figures in any report period follow from
/// the row alone (the first decision counts when it is before the period's
/// end). The other rows (`nreq > 1 OR cts < rts`, rare: clock trouble
/// upstream, reused ids) are recomputed from their events by the report.
enum SummarySchema {
    /// Microseconds per hour, the unit of `event_hours.hour`.
    static let hourMicros: Int64 = 3_600_000_000

    /// `hour` of an event time in SQL: floor division, also before 1970.
    static func hourSQL(_ ts: String) -> String {
        "((\(ts) - ((\(ts) % 3600000000) + 3600000000) % 3600000000) / 3600000000)"
    }

    /// The hour of an event time (floor division, as ``hourSQL(_:)``).
    static func hour(_ micros: Int64) -> Int64 {
        micros >= 0 ? micros / hourMicros : -((-micros + hourMicros - 1) / hourMicros)
    }

    /// Migration 2: the summary tables and their backfill. It adds no column
    /// or index to `events` (a covering `events_lifecycle` index was measured
    /// to cost the writer about 40 % of its throughput; the report does not
    /// need it once these tables exist), so upgrading a large store rewrites
    /// none of its event pages.
    static let migration = """
    -- A rowid table: new rows are appended and a request's later updates land
    -- on recent pages, so a commit dirties fewer random pages than a table
    -- clustered by the (random) request id; the id's unique index is written
    -- once per request.
    CREATE TABLE requests (
        request_id   TEXT NOT NULL UNIQUE,
        nreq         INTEGER NOT NULL,   -- request events
        rts          INTEGER,            -- the first request event's time, NULL while none is stored
        requester    TEXT,               -- its requester's identity key (lower(trim()), as the report groups)
        priority     TEXT,
        environment  TEXT,
        dts          INTEGER,            -- the first approve or reject
        dkind        TEXT,
        approver     TEXT,               -- its actor key
        cts          INTEGER             -- the first approve, reject, cancel or expire
    );
    CREATE INDEX requests_irregular ON requests (rts) WHERE nreq > 1 OR cts < rts;

    CREATE TABLE event_hours (
        hour   INTEGER NOT NULL,         -- UTC hours since 1970 (floor of ts / 3600 s)
        event  TEXT NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (hour, event)
    ) WITHOUT ROWID;

    \(rebuild)
    """

    /// Recomputes both summary tables from all events (the migration's
    /// backfill; tests compare the writer's tables with it).
    static let rebuild = """
    DELETE FROM requests;
    \(requestsSQL(filter: "1"))
    DELETE FROM event_hours;
    INSERT INTO event_hours (hour, event, n)
        SELECT \(hourSQL("ts")) AS h, event, count(*) FROM events GROUP BY h, event;
    """

    /// Inserts the `requests` rows of the events matching `filter` (an SQL
    /// condition on `events`), whose ids have no row yet. The lifecycle events
    /// are copied small (no raw JSON) and read in (request id, time, seq)
    /// order, so each min() takes the other columns of its first row (SQLite's
    /// bare-column rule): at the same microsecond, the event stored first, as
    /// the writer picks.
    static func requestsSQL(filter: String) -> String {
        """
        DROP TABLE IF EXISTS temp.summary_events;
        CREATE TEMP TABLE summary_events AS
            SELECT request_id, ts, seq, event, actor_key, requester, priority,
                   CASE WHEN event = 'request' THEN json_extract(raw, '$.environment') END AS environment
            FROM events WHERE event IN ('request', 'approve', 'reject', 'cancel', 'expire') AND \(filter);
        CREATE INDEX temp.summary_events_order ON summary_events (request_id, ts, seq);
        INSERT INTO requests (request_id, nreq, rts, requester, priority, environment)
            SELECT request_id, count(*), min(ts), lower(trim(requester)), priority, environment
            FROM summary_events INDEXED BY summary_events_order WHERE event = 'request' GROUP BY request_id;
        INSERT INTO requests (request_id, nreq, dts, dkind, approver)
            SELECT request_id, 0, min(ts), event, actor_key
            FROM summary_events INDEXED BY summary_events_order WHERE event = 'approve' OR event = 'reject' GROUP BY request_id
            ON CONFLICT (request_id) DO UPDATE SET dts = excluded.dts, dkind = excluded.dkind, approver = excluded.approver;
        INSERT INTO requests (request_id, nreq, cts)
            SELECT request_id, 0, min(ts)
            FROM summary_events INDEXED BY summary_events_order WHERE event <> 'request' GROUP BY request_id
            ON CONFLICT (request_id) DO UPDATE SET cts = excluded.cts;
        DROP TABLE temp.summary_events;
        """
    }
}
