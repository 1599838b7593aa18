-- The summary tables recomputed from the events: the backfill of schema migration 2
-- (SummarySchema.rebuild), for scripts/bench-report's copied events. Generated:
-- JITAUDIT_WRITE_REBUILD_SQL=1 swift test --filter theRebuildScript
DELETE FROM requests;
INSERT INTO requests (request_id, nreq, rts, requester, priority, environment)
    SELECT request_id, count(*), min(ts), lower(trim(requester)), priority, environment
    FROM events INDEXED BY events_lifecycle WHERE event = 'request' AND 1 GROUP BY request_id;
INSERT INTO requests (request_id, nreq, dts, dkind, approver)
    SELECT request_id, 0, min(ts), event, actor_key
    FROM events INDEXED BY events_lifecycle WHERE (event = 'approve' OR event = 'reject') AND 1 GROUP BY request_id
    ON CONFLICT (request_id) DO UPDATE SET dts = excluded.dts, dkind = excluded.dkind, approver = excluded.approver;
INSERT INTO requests (request_id, nreq, cts)
    SELECT request_id, 0, min(ts)
    FROM events INDEXED BY events_lifecycle
    WHERE (event = 'approve' OR event = 'reject' OR event = 'cancel' OR event = 'expire') AND 1 GROUP BY request_id
    ON CONFLICT (request_id) DO UPDATE SET cts = excluded.cts;
DELETE FROM event_hours;
INSERT INTO event_hours (hour, event, n)
    SELECT ((ts - ((ts % 3600000000) + 3600000000) % 3600000000) / 3600000000) AS h, event, count(*) FROM events GROUP BY h, event;
