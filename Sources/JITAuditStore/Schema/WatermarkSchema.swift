/// Migration 5: the wall clock's advances of the engine's watermark are
/// journaled with the events they came after.
///
/// While sources are idle, the daemon lets event time flow with the wall
/// clock (SPEC §3): a tick moves the watermark, releasing waiting events and
/// firing deadlines before later events arrive. A restart re-feeds the
/// engine the events logged after its snapshot; without the ticks, an event
/// that arrived after a tick (late, in the original run) would be processed
/// as if it had come in time, and the engine would end in another state than
/// the uninterrupted run's. Each tick that released or fired something is
/// stored as (the newest event's seq at that moment, the watermark), in the
/// transaction of the batch that carries the tick's findings; resume applies
/// it after re-feeding that event. Rows older than the snapshot are dropped
/// whenever a snapshot is stored.
enum WatermarkSchema {
    static let migration = """
    CREATE TABLE watermark_marks (
        seq        INTEGER PRIMARY KEY CHECK (seq >= 0),
        watermark  INTEGER NOT NULL
    );
    """
}
