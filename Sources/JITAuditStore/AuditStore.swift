import CSQLite
import JITAuditCore
#if canImport(Glibc)
import Glibc
#endif

/// jitaudit's durable memory: one SQLite database (WAL) holding the
/// hash-chained audit log, rejected lines, findings, file checkpoints and the
/// engine snapshot.
///
/// Open it as the one writer (``Mode/write``: takes an exclusive lock for the
/// life of the object, migrates the schema) or as a reader (``Mode/read``:
/// never writes, may run beside the writer). Writes go into one open
/// transaction that ``commit(snapshot:at:)`` ends: everything since the last
/// commit becomes durable together, or nothing of it does.
package final class AuditStore {
    package enum Mode: Sendable { case write, read }

    package struct Options: Sendable {
        /// How long to wait for a lock held by another process.
        package var busyTimeoutMilliseconds: Int32 = 5_000
        /// SQLite page cache, in KiB.
        package var cacheKiB: Int = 64 * 1024
        /// Events the index file may be behind the log before its writer
        /// merges them into the lookup tables and the summaries (see
        /// ``BulkWriter``). Since schema 7 no finding waits for a merge; the
        /// size trades the index file's pages rewritten per event against
        /// how many newest events lookups and reports read from the log
        /// themselves. 65,536, in the daemon and `replay --db` (which used
        /// 262,144 until its index writer shared the cores; see
        /// ``indexWriterOnIdleCoresOnly``). The daemon used 4,096 until the
        /// seventh round of docs/bench-live.md: the summaries' upserts land on pages
        /// all over the `requests` table, and with 4,096-event merges the
        /// index file's writer rewrote most of them at every merge, 5.9 of
        /// the 10.2 GB the daemon wrote in 40 s at 50,000 events/s; with
        /// 65,536, 0.9 of 5.1 GB, and the `fsync`s of the log's commits wait
        /// behind less.
        package var keyMergeEvents: Int = 65_536
        /// Whether the index file's writer takes only idle cores
        /// (`SCHED_IDLE`, the daemon: its merges must never delay a finding)
        /// or shares the cores with the log's writer at the normal priority
        /// (a bulk load, `replay --db`: no finding waits on latency there,
        /// and with both cores busy an idle-only writer starved until the
        /// log waited for it, `maxBehind` events later, and then ran alone:
        /// 1 M events took 8.3 s with a third of it stalled).
        package var indexWriterOnIdleCoresOnly = true
        /// How far the index file may fall behind before the log's commits
        /// wait for its writer (nil: its default; tests make it small).
        package var indexMaxBehindEvents: Int? = nil
        /// Test hook: the index file's writer thread starts held, taking
        /// nothing (its build included) until `bulk?.holdThread(false)`.
        package var indexWriterStartsHeld = false
        /// Checkpoint the write-ahead log on a thread of its own instead of
        /// inside the commit that fills it (see ``WALCheckpointer``).
        package var backgroundCheckpoint = true
        /// When the background checkpointer copies the log, and when the writer does.
        package var walLimits = WALCheckpointer.Limits.standard
        /// A writer creates a missing database (`replay --db`, the daemon);
        /// maintenance (`prune`) refuses one, so a mistyped path is an error
        /// rather than a new, empty store.
        package var createIfMissing = true
        package init() {}
    }

    let conn: Connection
    package let path: String
    package let mode: Mode
    let options: Options

    // Writer state; see AuditStore+Write.swift.
    var writer: WriterState?
    private var checkpointer: WALCheckpointer?
    /// The index file's writer (a writer of schema 7 or later; see ``IndexFile``).
    var bulk: BulkWriter?
    /// Why the index file was rebuilt (a writer) or is not used (a reader),
    /// for the command or daemon to tell; nil when all is well.
    package internal(set) var indexFileNote: String?

    /// How the index file's writer thread runs, for the daemon's log: nil
    /// without one (a reader), else whether it got `SCHED_IDLE`, and what is
    /// lost when it did not (a seccomp filter that denies `sched_setscheduler`
    /// or `setpriority`: the daemon stays correct, only its latency suffers).
    package var indexWriterScheduling: (idle: Bool, message: String)? {
        bulk.map { Self.schedulingReport($0.scheduling) }
    }

    package static func schedulingReport(_ scheduling: Int32) -> (idle: Bool, message: String) {
        switch scheduling {
        case 2: (true, "index file writer runs on idle cores only (SCHED_IDLE)")
        case 1: (false, "index file writer could not get SCHED_IDLE (sched_setscheduler denied); it runs at nice 10, and its merges may delay findings by a few milliseconds")
        default: (false, "index file writer could get neither SCHED_IDLE nor nice 10 (sched_setscheduler and setpriority denied); its merges compete with the engine and may delay findings")
        }
    }
    /// A reader has the index file of this log attached as `idx` (used, or
    /// shadowed by empty stand-ins when stale; see ``IndexFile/attachForReading(_:path:)``).
    private(set) var indexFileAttached = false

    package init(path: String, mode: Mode, options: Options = Options()) throws(StoreError) {
        self.path = path
        self.mode = mode
        self.options = options
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw StoreError(.cannotOpen, "is a directory, not a database file (name the database file in it, e.g. \(path.hasSuffix("/") ? path : path + "/")jitaudit.db)", path: path)
        }
        if mode == .read || !options.createIfMissing {
            // A reader never creates the file: a missing database is an error.
            guard access(path, F_OK) == 0 else {
                throw StoreError(.cannotOpen, "no such database file (create one with `jitaudit replay --db \(path) FILE`)", path: path)
            }
        }
        conn = try Connection(path: path, readOnly: mode == .read, create: mode == .write)
        sqlite3_busy_timeout(conn.handle, options.busyTimeoutMilliseconds)
        try checkHeader()
        if mode == .write {
            guard !conn.isReadOnly else {
                throw StoreError(.readOnly, "the database file is read-only; check its permissions (or use a reader command)", path: path)
            }
            try takeWriterLock()
            try configureWriter()
            try migrate()
            writer = try WriterState(conn: conn)
            let b = try makeBulkWriter()
            bulk = b
            indexFileNote = b.rebuiltBecause.map {
                "rebuilding the index file \(b.path) in the background (\($0)); lookups and reports read the audit log until it is done"
            }
            if options.backgroundCheckpoint {
                let c = try WALCheckpointer(path: path, limits: options.walLimits)
                c.attach(to: conn)
                checkpointer = c
            }
        } else {
            let version = try conn.scalarInt("PRAGMA user_version") ?? 0
            guard version > 0 else {
                throw StoreError(.notJITAudit, "the database has no jitaudit schema yet (create it with `jitaudit replay --db \(path) FILE`)", path: path)
            }
            // Before any temporary object: changing `temp_store` drops them all.
            try conn.exec("PRAGMA temp_store = MEMORY")
            if version >= IndexFileMigration.version {
                (indexFileNote, indexFileAttached) = try IndexFile.attachForReading(conn, path: IndexFile.path(for: path))
            }
            try conn.exec("PRAGMA query_only = ON", "configuring the reader")
        }
    }

    /// The index file's writer (see ``BulkWriter``).
    func makeBulkWriter() throws(StoreError) -> BulkWriter {
        // A quarter of the log's page cache: a merge touches the newest
        // bucket's pages and the summaries' recent rows (`replay --db`
        // peak RSS 324 → 276 MiB, same speed).
        try BulkWriter(path: IndexFile.path(for: path), logPath: path, mergeEvents: options.keyMergeEvents,
                       cacheKiB: options.cacheKiB / 4, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds,
                       idleCoresOnly: options.indexWriterOnIdleCoresOnly, maxBehind: options.indexMaxBehindEvents,
                       startHeld: options.indexWriterStartsHeld)
    }

    /// Opens the index file again when it was deleted or replaced while this
    /// writer ran, and rebuilds it from the log in the background (as at
    /// open). Returns what happened, for the log; nil when nothing had to.
    /// Called between transactions: by ``prune(olderThan:batchSize:now:)``,
    /// and by the daemon every few seconds.
    ///
    /// A reopen that fails (a full disk) leaves the store without an index
    /// writer: lookups and reports read the log meanwhile, and the next call
    /// tries again.
    package func reopenIndexFileIfReplaced() throws(StoreError) -> String? {
        guard let w = writer, !w.inTransaction else { return nil }
        let why: String
        if let b = bulk {
            guard let replaced = b.replaced else { return nil }
            // What the old writer has queued goes into the unlinked file; the
            // new one rebuilds everything from the log. Its own build, if it
            // is still at it, is stopped rather than waited for (minutes on
            // a large log, while the daemon's intake waited too).
            let building = b.abandonBuild()
            b.settle()
            let abandoned = building && b.abandonedBuild
            why = "\(replaced) while jitaudit was writing" + (abandoned ? " (its unfinished build was abandoned)" : "")
            bulk = nil
        } else {
            why = "is open again after a failed attempt"
        }
        let fresh = try makeBulkWriter()
        bulk = fresh
        return "the index file \(fresh.path) \(why); rebuilding it in the background (lookups and reports read the audit log until it is done)"
    }

    deinit {
        checkpointer?.detach(from: conn)
        bulk?.settle()
        // Their connections close before the log's (`conn`, released after
        // this), so the log's is the last one and folds the WAL in.
        bulk = nil
        checkpointer = nil
    }

    /// Write-ahead-log checkpoints completed beside the writer (0 without ``Options/backgroundCheckpoint``).
    package var backgroundCheckpoints: Int { checkpointer?.backgroundCheckpoints ?? 0 }

    /// Schema version of this binary.
    package static var schemaVersion: Int { Schema.latestVersion }

    /// Refuses a foreign database or a schema newer than this binary knows,
    /// before anything is written. Reading the header also catches a file
    /// that is not a database at all.
    private func checkHeader() throws(StoreError) {
        let version: Int64
        let appID: Int64
        do {
            version = try conn.scalarInt("PRAGMA user_version") ?? 0
            appID = try conn.scalarInt("PRAGMA application_id") ?? 0
        }
        if version > Schema.latestVersion {
            throw StoreError(.schemaTooNew, "the database has schema version \(version), newer than this jitaudit knows (\(Schema.latestVersion)); "
                             + "use the jitaudit release that wrote it, or a newer one", path: path)
        }
        if appID != 0 && appID != Int64(Schema.applicationID) {
            throw StoreError(.notJITAudit, "the file is an SQLite database of another application (application_id \(appID)); refusing to use it", path: path)
        }
        if appID == 0 {
            let tables = try conn.scalarInt("SELECT count(*) FROM sqlite_schema") ?? 0
            if tables > 0 {
                throw StoreError(.notJITAudit, "the file is an SQLite database that jitaudit did not create; refusing to use it", path: path)
            }
        }
    }

    /// One writer per database: an exclusive `flock` held while this object lives.
    private func takeWriterLock() throws(StoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.cannotOpen, "cannot open for locking: \(String(cString: strerror(errno)))", path: path) }
        conn.writerLockFD = fd
        var waited: Int32 = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw StoreError(.io, "cannot lock the database: \(String(cString: strerror(errno)))", path: path)
            }
            if waited >= options.busyTimeoutMilliseconds {
                throw StoreError(.locked, "another jitaudit process is writing to this database (waited \(waited) ms); "
                                 + "stop it or raise --busy-timeout", path: path)
            }
            usleep(20_000)
            waited += 20
        }
    }

    private func configureWriter() throws(StoreError) {
        // 4 KiB pages (settable only before the first table): a commit writes
        // every page it dirtied whole, and the lookup-table merges and summary
        // upserts dirty pages spread over a table, so small pages write fewer
        // bytes per commit than the 16 KiB pages used before schema 3.
        if try conn.scalarInt("PRAGMA user_version") == 0 { try conn.exec("PRAGMA page_size = 4096") }
        let mode = try conn.prepare("PRAGMA journal_mode = WAL")
        guard try mode.step(), mode.text(0)?.lowercased() == "wal" else {
            throw StoreError(.io, "cannot switch the database to WAL mode (is it on a network file system?)", path: path)
        }
        try conn.exec("""
            PRAGMA synchronous = NORMAL;
            PRAGMA foreign_keys = ON;
            PRAGMA cache_size = -\(options.cacheKiB);
            PRAGMA temp_store = MEMORY;
            PRAGMA journal_size_limit = 67108864;
            """, "configuring the database")
    }

    /// Applies the migrations this file lacks, each in its own transaction.
    private func migrate() throws(StoreError) {
        let current = Int(try conn.scalarInt("PRAGMA user_version") ?? 0)
        for m in Schema.migrations where m.version > current {
            try conn.exec("BEGIN IMMEDIATE", "starting migration \(m.version) (\(m.name))")
            do {
                if m.version == 1 {
                    try conn.exec("""
                        CREATE TABLE schema_migrations (
                            version    INTEGER PRIMARY KEY,
                            name       TEXT NOT NULL UNIQUE,
                            applied_at TEXT NOT NULL
                        );
                        PRAGMA application_id = \(Schema.applicationID);
                        """, "creating the migrations table")
                }
                try conn.exec(m.sql, "migration \(m.version) (\(m.name))")
                let record = try conn.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
                record.bind(1, m.version)
                record.bind(2, m.name)
                try record.run()
                try conn.exec("PRAGMA user_version = \(m.version)")
                try conn.exec("COMMIT", "committing migration \(m.version) (\(m.name))")
            } catch {
                try? conn.exec("ROLLBACK")
                throw error
            }
        }
    }

    /// Applied migrations, oldest first.
    package func migrations() throws(StoreError) -> [(version: Int, name: String)] {
        let s = try conn.prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        var out: [(Int, String)] = []
        while try s.step() { out.append((s.int(0), s.text(1) ?? "")) }
        return out
    }

    /// Number of rows of a table (tests and summaries).
    package func count(_ table: String) throws(StoreError) -> Int {
        Int(try conn.scalarInt("SELECT count(*) FROM \(table)") ?? 0)
    }
}
