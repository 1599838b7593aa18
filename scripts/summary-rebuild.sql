-- The summary tables recomputed from the events: the backfill of schema migration 2
-- (SummarySchema.rebuild), for scripts/bench-report's copied events. Generated:
-- JITAUDIT_WRITE_REBUILD_SQL=1 swift test --filter theRebuildScript
DELETE FROM requests;
DROP TABLE IF EXISTS temp.summary_events;
CREATE TEMP TABLE summary_events AS
    SELECT request_id, ts, seq, event, actor_key, requester, priority,
           CASE WHEN event = 'request' THEN json_extract(raw, '$.environment') END AS environment
    FROM events WHERE event IN ('request', 'approve', 'reject', 'cancel', 'expire') AND 1;
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
DELETE FROM event_hours;
INSERT INTO event_hours (hour, event, n)
    SELECT ((ts - ((ts % 3600000000) + 3600000000) % 3600000000) / 3600000000) AS h, event, count(*) FROM events GROUP BY h, event;
