import CSQLite
#if canImport(Glibc)
import Glibc
#endif
import JITAuditCore
import Synchronization

/// The index file's writer (see ``IndexFile``): a connection and a thread
/// of its own (``BackgroundThread``: idle cores only in the daemon), fed after each commit of the audit log with the new
/// head and the committed events' summary part. Once the lookup tables or the
/// summaries are ``AuditStore/Options/keyMergeEvents`` behind the head, it
/// merges all three in one transaction of the index file, reading the new
/// events from the log (attached as `log`, which it only reads, in deferred
/// transactions). The log's writer does not wait for it (unless it falls
/// `maxBehind` events behind, and never while it builds the file: see
/// `building`), and readers never miss an event meanwhile:
/// the lookup views and the report add the events after each marker
/// themselves.
///
/// A failure here (a full disk) is kept and thrown by the log's next commit,
/// before anything of that batch is written; the index file is derived, so
/// what it had not merged is merged by the next writer.
final class BulkWriter: @unchecked Sendable {
    private let queue: BackgroundThread
    private let failure = Mutex<StoreError?>(nil)
    /// How far all three tables reach, as last committed here (read by the log's writer).
    private let merged = Atomic<Int64>(0)
    /// How far behind the log the index file may fall before a commit of
    /// the log waits for it (running the queued merges itself): at idle
    /// priority it could otherwise fall behind without bound under sustained
    /// overload, and what it has not merged is held in memory (the summary
    /// part). Measured at nice 10, with 4 clients as fast as they go
    /// (`scripts/bench-live`), 131,072 events behind held them at
    /// 126,000–130,000 events/s and 441 MiB peak RSS, 524,288 at
    /// 139,000–145,000 and 458–505 MiB, 1,048,576 at 149,000 and 525 MiB.
    private let maxBehind: Int64
    /// Why the file was rebuilt when the writer opened it, if it was.
    let rebuiltBecause: String?
    /// How the writer's thread is scheduled (see ``BackgroundThread/scheduling``).
    var scheduling: Int32 { queue.scheduling }
    /// The writer thread's id (what /proc/self/task lists).
    var threadID: Int32 { queue.threadID }
    /// Device and inode of the file this writer opened at `path`.
    private let identity: (device: UInt64, inode: UInt64)?

    /// Why `path` no longer names the file this writer writes, if it does not:
    /// deleted or replaced by hand while it ran. Its connection would go on
    /// writing an unlinked file while readers and `prune` found another.
    var replaced: String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return errno == ENOENT ? "was deleted" : nil }
        guard let identity else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino)) == identity ? nil : "was replaced"
    }
    let path: String

    // Used only on `queue` (or before the first task).
    private let conn: Connection
    private let keys: KeyIndexWriter
    private let summary: SummaryWriter
    private let summaryThrough: Statement
    private var through: [BulkTable: Int64] = [:]
    /// The log's committed head, as last handed over.
    private var head: Int64
    /// The summary part of the committed events after the summaries' marker.
    private var pending = SummaryBatch()
    private let mergeEvents: Int64
    /// The summaries of the events after `through[.summaries]` are to be
    /// read back from the log: parts were not kept while ``building``.
    private var summariesFromLog = false
    /// The build at open was stopped by ``abandonBuild()`` before it ended.
    private var buildAbandoned = false

    /// From open until the summaries have caught up with the log after a
    /// build from the log: the log's commits meanwhile keep no summary part
    /// (their events' summaries are read back from the log afterwards, a
    /// chunk at a time) and never wait for this writer. A build takes
    /// minutes on a large log (10^7 events: 87 s); holding the parts would
    /// take memory without bound, and waiting for the build (as the
    /// `maxBehind` back-pressure did) stalled the daemon's intake for as long.
    private let building = Atomic<Bool>(false)
    /// The log's committed head as last reported by ``committed(head:summary:)``
    /// (ahead of `head`, which follows the queue): a catch-up from the log
    /// goes on to it, so it ends close to the log rather than a backlog behind.
    private let latestHead = Atomic<Int64>(0)
    /// Set by ``abandonBuild()``; SQLite checks it while a build runs.
    private let stopFlag = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    /// `idleCoresOnly` false: nice 0, the normal policy (a bulk load; see
    /// ``AuditStore/Options/indexWriterOnIdleCoresOnly``).
    /// `maxBehind`: see the property (nil: derived from `mergeEvents`; tests set it small).
    init(path: String, logPath: String, mergeEvents: Int, cacheKiB: Int, busyTimeoutMilliseconds: Int32,
         idleCoresOnly: Bool = true, maxBehind: Int? = nil, startHeld: Bool = false) throws(StoreError) {
        stopFlag.initialize(to: 0)
        queue = idleCoresOnly ? BackgroundThread(name: "jitaudit.index", nice: 10)
                              : BackgroundThread(name: "jitaudit.index", nice: 0, idle: false)
        self.path = path
        self.mergeEvents = Int64(max(1, mergeEvents))
        self.maxBehind = maxBehind.map { Int64($0) } ?? max(2 * self.mergeEvents, 524_288)
        var (conn, why) = try Self.open(path: path, logPath: logPath, cacheKiB: cacheKiB, busy: busyTimeoutMilliseconds)
        if why != nil {
            // Unreadable: not worth keeping, everything in it is derived.
            IndexFile.remove(path)
            (conn, _) = try Self.open(path: path, logPath: logPath, cacheKiB: cacheKiB, busy: busyTimeoutMilliseconds)
        }
        let fresh = try conn.scalarInt("PRAGMA main.user_version") == 0
        if !fresh, let app = try conn.scalarInt("PRAGMA main.application_id"), app != Int64(IndexFile.applicationID) {
            throw StoreError(.notJITAudit, "\(path) is not a jitaudit index file (application_id \(app)); move it away, jitaudit rebuilds it",
                             path: path)
        }
        let logHead = try conn.scalarInt("SELECT head_seq FROM log.chain WHERE id = 1") ?? 0
        var mismatch = fresh ? "it is new" : try IndexFile.mismatch(conn, schema: "main", log: "log")
        if mismatch == nil, let through = try conn.scalarInt("SELECT min(through_seq, actor_through, summary_through) FROM index_state"),
           logHead - through > self.maxBehind {
            // Catching up would decode every missing event's line in memory.
            mismatch = "it is \(logHead - through) events behind the audit log"
        }
        if mismatch != nil {
            // Emptied now, filled by the thread (below): a large log takes
            // minutes (10^7 events: 87 s), longer than systemd waits for a
            // start. Meanwhile its markers (0) make lookups and reports read
            // the log itself.
            // Deferred, as every transaction here: `BEGIN IMMEDIATE` would
            // take the write lock of the attached log as well.
            try conn.exec("BEGIN", "starting to build the index file")
            do throws(StoreError) {
                let bits = fresh ? Int64(KeyIndexSchema.bucketBits) : (try? KeyIndexWriter.bucketBits(conn)) ?? Int64(KeyIndexSchema.bucketBits)
                for t in IndexFile.tables { try conn.exec("DROP TABLE IF EXISTS main.\(t)") }
                try conn.exec(IndexFile.schema, "creating the index file's tables")
                try conn.exec("""
                    INSERT INTO index_state (id, through_seq, bucket_bits, actor_through, summary_through, store_token, anchor_seq)
                        SELECT 1, 0, \(bits), 0, 0, i.token, c.anchor_seq FROM log.chain c, log.store_identity i;
                    PRAGMA application_id = \(IndexFile.applicationID); PRAGMA user_version = \(IndexFile.version);
                    """, "creating the index file's state")
                try conn.exec("COMMIT", "committing the index file")
            } catch {
                try? conn.exec("ROLLBACK")
                throw error
            }
        }
        self.conn = conn
        var st = stat()
        identity = stat(path, &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
        keys = try KeyIndexWriter(conn: conn)
        summary = try SummaryWriter(conn: conn)
        summaryThrough = try conn.prepare("UPDATE index_state SET \(BulkTable.summaries.marker) = ?1 WHERE id = 1")
        for t in BulkTable.allCases { through[t] = try t.through(conn) }
        head = logHead
        let rebuild = mismatch != nil
        // What the thread catches up to counts as merged for the back-pressure.
        merged.store(rebuild ? logHead : through.values.min()!, ordering: .relaxed)
        rebuiltBecause = why ?? (fresh ? (logHead > 0 ? "it was missing" : nil) : mismatch)
        // (An empty log's build is immediate: nothing to keep commits from.)
        building.store(rebuild && logHead > 0, ordering: .releasing)
        // First on the thread, before any commit's part: everything through
        // the head as this writer found it (every later part is after it).
        if startHeld { queue.hold(true) }
        queue.async { [self] in catchUp(rebuild: rebuild, through: logHead) }
    }

    deinit {
        // The connection (a property) closes after this body; its check is
        // removed first so nothing can read the flag once it is freed.
        jitaudit_stop_when_flagged(conn.handle, nil)
        stopFlag.deallocate()
    }

    /// Brings the file to the log's head at open: by a build from the log in
    /// SQL, or by reading back the summary part of the few events its
    /// summaries lack (the lookup tables follow at the next merge).
    private func catchUp(rebuild: Bool, through logHead: Int64) {
        do throws(StoreError) {
            if rebuild {
                // The build sorts every event's keys and copies the lifecycle
                // events into a temporary table: in memory that took 2 GB for
                // 10^7 events, over the unit's MemoryMax. Temporary files here
                // (the unit's private /tmp), memory again for the merges.
                try conn.exec("PRAGMA temp_store = FILE")
                defer { try? conn.exec("PRAGMA temp_store = MEMORY") }
                jitaudit_stop_when_flagged(conn.handle, stopFlag)
                defer { jitaudit_stop_when_flagged(conn.handle, nil) }
                try conn.exec("BEGIN", "starting to build the index file")
                do throws(StoreError) {
                    try conn.exec(IndexFile.fill(bucketBits: Int(try KeyIndexWriter.bucketBits(conn)), through: logHead),
                                  "building the index file from the audit log")
                    try conn.exec("COMMIT", "committing the index file")
                } catch {
                    try? conn.exec("ROLLBACK")
                    throw error
                }
                for t in BulkTable.allCases { through[t] = logHead }
                // What the log committed meanwhile, and the end of `building`.
                if building.load(ordering: .acquiring) { mergeFromLog() }
            } else {
                pending = try Self.summaryOfLog(conn, after: through[.summaries]!, through: logHead)
            }
        } catch {
            if stopRequested {
                buildAbandoned = true
            }
            failure.withLock { $0 = StoreError(error.code, "building the index file \(path) failed: \(error.message)", path: error.path,
                                                sqliteCode: error.sqliteCode) }
        }
    }

    private var stopRequested: Bool { jitaudit_flag_check(stopFlag) != 0 }

    /// Stops a build from the log that is still running or queued, so that
    /// ``settle()`` does not wait for it: the writer is being replaced
    /// (its file was deleted), and the new one builds the file again. The
    /// stopped build leaves a failure, so this writer must not be used after.
    /// Returns whether a build was under way.
    func abandonBuild() -> Bool {
        guard building.load(ordering: .acquiring) else { return false }
        jitaudit_flag_set(stopFlag)
        return true
    }

    /// After ``settle()``: whether ``abandonBuild()`` stopped the build before it ended.
    var abandonedBuild: Bool {
        var result = false
        queue.sync { [self] in result = buildAbandoned }
        return result
    }

    /// Opens the index file (creating it) with the log attached as `log`.
    /// Its log is checkpointed every 32 MiB (8,192 pages) rather than SQLite's
    /// 4 MiB: each merge dirties a few MiB, and copying them back after every
    /// one wrote ~20 % more per event (`scripts/bench-live`: 2.6 → 2.1 GB per
    /// 10^6 events), and no finding waits for this connection.
    /// Returns the reason when the file is not a readable database.
    private static func open(path: String, logPath: String, cacheKiB: Int, busy: Int32) throws(StoreError) -> (Connection, String?) {
        let conn = try Connection(path: path, readOnly: false, create: true)
        sqlite3_busy_timeout(conn.handle, busy)
        do {
            _ = try conn.scalarInt("SELECT count(*) FROM sqlite_schema")
        } catch let e where e.code == .notADatabase || e.code == .corrupt {
            return (conn, "it is not a readable database (\(e.message))")
        }
        if try conn.scalarInt("PRAGMA user_version") == 0 { try conn.exec("PRAGMA page_size = 4096") }
        let mode = try conn.prepare("PRAGMA journal_mode = WAL")
        guard try mode.step(), mode.text(0)?.lowercased() == "wal" else {
            throw StoreError(.io, "cannot switch the index file to WAL mode", path: path)
        }
        mode.reset()
        try conn.exec("""
            PRAGMA synchronous = NORMAL;
            PRAGMA cache_size = -\(cacheKiB);
            PRAGMA temp_store = MEMORY;
            PRAGMA journal_size_limit = 67108864;
            PRAGMA wal_autocheckpoint = 8192;
            """, "configuring the index file")
        try IndexFile.attach(conn, path: logPath, as: "log")
        return (conn, nil)
    }

    /// The summary part of the log's events `(after, through]` (a new writer
    /// picks up where the file's summaries stop).
    private static func summaryOfLog(_ conn: Connection, after: Int64, through: Int64) throws(StoreError) -> SummaryBatch {
        var batch = SummaryBatch()
        guard through > after else { return batch }
        // The intake's limits, bar the identifier length (a configured one may differ).
        let decoder = LineDecoder(maxIdentifierBytes: .max)
        let s = try conn.prepare("SELECT raw FROM log.events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")
        s.bind(1, after); s.bind(2, through)
        while try s.step() {
            // A row that no longer decodes was altered by hand: `verify` names
            // it; as on resume, it is skipped rather than stopping the writer.
            guard let raw = s.bytes(0), case .success(let e) = decoder.decode(raw.bindMemory(to: UInt8.self)) else { continue }
            batch.add(e)
        }
        return batch
    }

    /// Throws the failure of an earlier merge: the log's writer calls it
    /// before committing, so that batch is rolled back whole.
    func check() throws(StoreError) {
        if let e = failure.withLock({ $0 }) { throw e }
    }

    /// The log committed events through `head`, whose summary part is `part`.
    func committed(head: Int64, summary part: SummaryBatch) {
        _ = latestHead.max(head, ordering: .relaxed)
        if building.load(ordering: .acquiring) {
            // Read back from the log once the build is done (see `building`).
            queue.async { [self] in
                self.head = max(self.head, head)
                summariesFromLog = true
                if self.head - through.values.min()! >= mergeEvents { mergeAll() }
            }
            return
        }
        queue.async { [self] in
            // A catch-up from the log may have covered this commit already
            // (it goes on to `latestHead`, and a commit reports its head
            // before it learns that the build is over).
            if head > through[.summaries]! { pending.merge(part) }
            self.head = max(self.head, head)
            if self.head - through.values.min()! >= mergeEvents { mergeAll() }
        }
        if head - merged.load(ordering: .relaxed) > maxBehind { queue.sync {} }
    }

    /// Merges everything committed through `head` now and waits for it.
    func flush(head: Int64) throws(StoreError) {
        queue.sync { [self] in
            self.head = max(self.head, head)
            mergeAll()
        }
        try check()
    }

    /// Waits for the merges already asked for.
    func settle() { queue.sync {} }

    /// Test hook: while held, the writer's thread takes nothing (as if it
    /// never got a core); see ``BackgroundThread/hold(_:)``.
    func holdThread(_ held: Bool) { queue.hold(held) }

    private func mergeAll() {
        guard failure.withLock({ $0 == nil }) else { return }
        if summariesFromLog || building.load(ordering: .acquiring) {
            mergeFromLog()
            return
        }
        guard through.values.contains(where: { $0 < head }) else { return }
        do throws(StoreError) {
            // Deferred: it reads the log and writes only the index file.
            try conn.exec("BEGIN", "starting an index merge")
            for t in [BulkTable.requestIndex, .actorIndex] where through[t]! < head {
                try keys.merge(t, after: through[t]!, upTo: head)
            }
            if through[.summaries]! < head {
                if !pending.isEmpty { try summary.write(pending) }
                summaryThrough.bind(1, head)
                try summaryThrough.run()
            }
            try conn.exec("COMMIT", "committing an index merge")
            pending.removeAll()
            for t in BulkTable.allCases { through[t] = head }
            merged.store(head, ordering: .relaxed)
        } catch {
            try? conn.exec("ROLLBACK")
            failure.withLock { $0 = StoreError(error.code, "writing the index file \(path) failed: \(error.message)", path: error.path,
                                                sqliteCode: error.sqliteCode) }
        }
    }

    /// Merges through `head` reading the summaries' events back from the
    /// log (after a build, or parts not kept), in transactions of
    /// `4 * mergeEvents` events so that memory stays bounded; then parts are
    /// kept again. What the parts held is all at or before `head`, so it is
    /// covered and dropped.
    private func mergeFromLog() {
        let chunk = 4 * mergeEvents
        jitaudit_stop_when_flagged(conn.handle, stopFlag)
        defer { jitaudit_stop_when_flagged(conn.handle, nil) }
        do throws(StoreError) {
            while true {
                head = max(head, latestHead.load(ordering: .relaxed))
                guard through.values.contains(where: { $0 < head }) else { break }
                let from = through.values.min()!
                let upTo = min(head, from + chunk)
                try conn.exec("BEGIN", "starting an index merge")
                do throws(StoreError) {
                    for t in [BulkTable.requestIndex, .actorIndex] where through[t]! < upTo {
                        try keys.merge(t, after: through[t]!, upTo: upTo)
                    }
                    if through[.summaries]! < upTo {
                        let part = try Self.summaryOfLog(conn, after: through[.summaries]!, through: upTo)
                        if !part.isEmpty { try summary.write(part) }
                        summaryThrough.bind(1, upTo)
                        try summaryThrough.run()
                    }
                    try conn.exec("COMMIT", "committing an index merge")
                } catch {
                    try? conn.exec("ROLLBACK")
                    throw error
                }
                for t in BulkTable.allCases { through[t] = max(through[t]!, upTo) }
                merged.store(through.values.min()!, ordering: .relaxed)
            }
            pending.removeAll()
            summariesFromLog = false
            building.store(false, ordering: .releasing)
        } catch {
            if stopRequested { buildAbandoned = true }
            failure.withLock { $0 = StoreError(error.code, "writing the index file \(path) failed: \(error.message)", path: error.path,
                                                sqliteCode: error.sqliteCode) }
        }
    }
}
