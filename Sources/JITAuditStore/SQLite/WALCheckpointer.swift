import CSQLite
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Copies the write-ahead log back into the database on a thread of its own,
/// over a connection of its own, so the writer's commits never wait for it.
///
/// SQLite's automatic checkpoint runs inside the `COMMIT` that pushes the log
/// past 1,000 pages, and with `synchronous = NORMAL` it ends with an `fsync`
/// of the database file: every few hundred commits one of them took 4–6 ms
/// instead of 0.1 ms, and that commit's findings waited for it
/// (`scripts/bench-live`, docs/bench-live.md). In WAL mode a checkpoint may
/// run beside the writer: it copies the frames committed before it started
/// while new ones are appended, and the writer starts the log over at its
/// next transaction once everything was copied.
///
/// The writer connection's WAL hook (called after each commit with the log's
/// size) asks for a checkpoint once the log holds `triggerFrames`. The log
/// starts over only when a transaction begins with every frame copied, which
/// a writer that never pauses never sees; so past `restartFrames` the hook
/// copies the background's small remainder in the writer. Should the
/// background fall behind, the hook checkpoints in the writer once the log
/// holds `hardLimitFrames`, as SQLite's own would: the log stays bounded.
package final class WALCheckpointer: Sendable {
    private let connection: SendableConnection
    /// At nice 10: a checkpoint copies up to 32 MiB and syncs, and at the
    /// normal priority it took a core from the engine and the writer when
    /// they wanted it (a Dispatch queue at `.utility` is no lower on Linux).
    /// Not `SCHED_IDLE`: starved on a busy host, the log would reach
    /// `hardLimitFrames` and the writer copy it all in a commit.
    private let queue = BackgroundThread(name: "jitaudit.ckpt", nice: 10, idle: false)
    private let requested = Atomic<Bool>(false)
    /// Frames the last checkpoint copied. The writer starts the log over at
    /// its first transaction after a checkpoint that copied every frame; a
    /// commit during the checkpoint leaves a few behind, and the next commit
    /// asks for them (nothing is asked while all are copied).
    private let copied = Atomic<Int32>(0)
    private let stopped = Atomic<Bool>(false)
    private let completed = Atomic<Int>(0)
    /// Checkpoints the background thread completed.
    var backgroundCheckpoints: Int { completed.load(ordering: .relaxed) }
    /// Log size (4 KiB frames) that asks for a background checkpoint.
    let triggerFrames: Int32
    /// Log size from which the writer copies the background's remainder itself
    /// when it is at most `catchUpFrames`, so the log starts over.
    let restartFrames: Int32
    let catchUpFrames: Int32
    /// Log size at which the writer checkpoints whatever is left.
    let hardLimitFrames: Int32

    /// A connection used only on `queue` (and closed after it drained).
    private final class SendableConnection: @unchecked Sendable {
        let value: Connection
        init(_ value: Connection) { self.value = value }
    }

    /// The log sizes (4 KiB frames) the checkpointer acts at.
    package struct Limits: Sendable {
        package var trigger: Int32
        package var restart: Int32
        package var catchUp: Int32
        package var hardLimit: Int32

        package init(trigger: Int32, restart: Int32, catchUp: Int32, hardLimit: Int32) {
            (self.trigger, self.restart, self.catchUp, self.hardLimit) = (trigger, restart, catchUp, hardLimit)
        }

        /// Each time the log starts over, SQLite syncs its header in that
        /// commit (`synchronous = NORMAL`), and a commit waits for that `fsync`
        /// behind whatever else the disk is writing. Triggered at 1,000
        /// frames (SQLite's own size) the log started over ~130 times in 10 s
        /// at 50,000 events/s; at 8,000 (32 MiB) ~18 times, and over two 40 s
        /// runs (`scripts/bench-live`) the commits waiting in `fsync` over
        /// 5 ms went from 22 to 9 (docs/bench-live.md, "Seventh round").
        package static let standard = Limits(trigger: 8_000, restart: 16_000, catchUp: 256, hardLimit: 64_000)
    }

    init(path: String, limits: Limits = .standard) throws(StoreError) {
        let conn = try Connection(path: path, readOnly: false, create: false)
        // A connection learns that the file is in WAL mode when it first reads
        // it; until then a checkpoint through it does nothing.
        _ = try conn.scalarInt("SELECT count(*) FROM sqlite_schema")
        connection = SendableConnection(conn)
        triggerFrames = limits.trigger
        restartFrames = limits.restart
        catchUpFrames = limits.catchUp
        hardLimitFrames = limits.hardLimit
    }

    /// Installs the hook on the writer's connection (replacing SQLite's automatic checkpoint).
    func attach(to writer: Connection) {
        sqlite3_wal_hook(writer.handle, { context, db, name, frames in
            let me = Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue()
            me.committed(frames: frames, db: db, name: name)
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Removes the hook and waits for a running checkpoint; the writer's
    /// connection then closes last and folds the log in itself.
    func detach(from writer: Connection) {
        sqlite3_wal_hook(writer.handle, nil, nil)
        stopped.store(true, ordering: .releasing)
        queue.sync {}
    }

    private func committed(frames: Int32, db: OpaquePointer?, name: UnsafePointer<CChar>?) {
        // Only the log's own file (prune also commits to the attached index file).
        guard let name, strcmp(name, "main") == 0 else { return }
        var base = copied.load(ordering: .relaxed)
        if frames < base {
            // The writer started the log over.
            base = 0
            copied.store(0, ordering: .relaxed)
        }
        if frames >= hardLimitFrames || (frames >= restartFrames && frames - base <= catchUpFrames) {
            // A writer that never pauses never finds every frame copied when
            // it starts a transaction, so the log would only grow. Copying the
            // few frames the background left here lets the next transaction
            // start it over (and at the hard limit, whatever is left: the
            // background fell behind).
            var log: Int32 = 0, done: Int32 = 0
            if sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &done) == SQLITE_OK, done > 0 {
                copied.store(done, ordering: .relaxed)
            }
            return
        }
        guard frames >= triggerFrames, frames > base, !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { [self] in
            requested.store(false, ordering: .releasing)
            guard !stopped.load(ordering: .acquiring) else { return }
            // PASSIVE never waits for the writer or readers; what it could not
            // copy now is copied by the next one. Errors (a busy reader holding
            // old frames) only mean the log stays longer for a while.
            var log: Int32 = 0, done: Int32 = 0
            guard sqlite3_wal_checkpoint_v2(connection.value.handle, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done) == SQLITE_OK else { return }
            if done > 0 { copied.store(done, ordering: .relaxed) }
            completed.add(1, ordering: .relaxed)
        }
    }
}
