/// Migration 4: an engine snapshot may be stored in parts.
///
/// The daemon's periodic snapshot grows with the engine state (tens of MB
/// after minutes at high rates, up to the memory limit), and the one SQLite
/// writer wrote it in one transaction: every commit queued behind it, which
/// was the largest event-to-finding delay left (a 23 MB state held the
/// writer for ~200 ms at 10,000 events/s). Now the daemon writes it in parts
/// of ``AuditStore/snapshotPartBytes``, each in a transaction of its own with
/// live commits in between, and a last small transaction makes the new
/// generation the current snapshot. A crash in between leaves the previous
/// snapshot current; the next save removes the stray parts.
///
/// `engine_snapshot.parts` is 0 when the state is in `engine_snapshot.state`
/// (snapshots written inline with a batch, as `replay --db` and a shutdown
/// do), else the number of rows of `engine_snapshot_parts` with the row's
/// `generation`, concatenated in `part` order.
enum SnapshotPartsSchema {
    static let migration = """
    CREATE TABLE engine_snapshot_parts (
        generation  INTEGER NOT NULL CHECK (generation > 0),
        part        INTEGER NOT NULL CHECK (part >= 0),
        data        BLOB NOT NULL,
        PRIMARY KEY (generation, part)
    );
    ALTER TABLE engine_snapshot ADD COLUMN parts INTEGER NOT NULL DEFAULT 0 CHECK (parts >= 0);
    ALTER TABLE engine_snapshot ADD COLUMN generation INTEGER NOT NULL DEFAULT 0 CHECK (generation >= 0);
    """
}
