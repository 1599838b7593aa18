#if canImport(Glibc)
import Glibc
#endif
import JITAuditCore
import JITAuditStore

/// `jitaudit replay --db`: runs the engine over files or stdin and keeps
/// every accepted event, rejected line and finding in the store.
///
/// Work is committed in batches of `batchSize` events; each commit carries
/// the file's checkpoint (the start of the next unread line), and every
/// `snapshotEvery` events also the engine's state. A restart restores the
/// snapshot, re-feeds the engine the events logged after it, and continues
/// each file from its checkpoint — so a run killed at any instant and run
/// again ends with exactly the findings of an uninterrupted run, and running
/// the same input again stores nothing twice. Stdin has no checkpoint: it is
/// read from its start every time.
///
/// The engine runs on the calling thread; batches are written by a
/// ``StoreWriterThread``, so detection and SQLite use two cores. Findings are
/// handed to `onFinding` once they are committed, and only when they were not
/// stored before.
package struct DurableReplay: ~Copyable {
    package var engine: Engine
    package var stats = IngestStats()
    package private(set) var storedFindings = 0
    /// Events the engine was re-fed from the log on resume.
    package private(set) var replayedFromLog = 0
    /// Open requests of the snapshot whose `request` event was no longer in the log.
    package private(set) var unresolvedRequests = 0
    /// Files resumed from a checkpoint, with the offset they resumed at.
    package private(set) var resumed: [(path: String, offset: Int64)] = []
    /// Last lines left for the next run: no newline yet, and not a whole
    /// event (a writer still at it), with why they do not decode.
    package private(set) var heldBack: [(position: LinePosition, reason: String)] = []
    package let store: AuditStore
    let batchSize: Int
    let snapshotEvery: Int
    let now: () -> Timestamp
    var decoder = LineDecoder()
    let reader: LineReader
    private var sinceSnapshot = 0
    private var checkpoints: [String: SourceCheckpoint] = [:]
    private var writer: StoreWriterThread?
    private var batch: WriteBatch

    package init(engine: Engine, store: AuditStore, batchSize: Int = 50_000, snapshotEvery: Int = 500_000,
                 now: @escaping () -> Timestamp) {
        self.engine = engine
        self.store = store
        self.batchSize = max(1, batchSize)
        self.snapshotEvery = max(1, snapshotEvery)
        self.now = now
        self.reader = LineReader(lineLimit: engine.config.lineLimit)
        self.batch = WriteBatch(receivedAt: now())
    }

    /// Brings the engine to where the last commit left it: the snapshot, then
    /// the events logged after it. Findings this raises were stored with those
    /// events already; any that were not are stored and handed to `onFinding`.
    /// Then starts the writer thread.
    package mutating func resume(onFinding: (Finding) throws -> Void) throws {
        var through: Int64 = 0
        if let snap = try store.snapshot() {
            engine = Engine(rules: engine.rules, config: engine.config, state: snap.state)
            through = snap.throughSeq
            unresolvedRequests = snap.unresolvedRequests
        }
        // Streamed, not collected: up to `snapshotEvery` events may follow the snapshot.
        var raised: [Finding] = []
        var refed = 0
        // A store the daemon wrote may hold its wall-clock advances: applied where they happened.
        var restored = engine
        try store.forEachEvent(after: through, mark: { restored.advance(to: $0) }) { raw in
            guard case .success(let e) = decoder.decode(raw.bindMemory(to: UInt8.self)) else { return }
            restored.ingest(e)
            refed += 1
            if restored.hasFindings { raised += restored.takeFindings() }
        }
        raised += restored.takeFindings()
        engine = restored
        replayedFromLog = refed
        let at = now()
        for f in raised where try store.record(f, recordedAt: at) {
            storedFindings += 1
            try onFinding(f)
        }
        checkpoints = try store.checkpoints()
        sinceSnapshot = refed
        try store.commit(at: now())
        let w = StoreWriterThread(store: store)
        w.start()
        writer = w
    }

    /// Processes `path` (`-` is stdin) from its checkpoint to its end.
    package mutating func run(path: String, onRejection: (Rejection, LinePosition) -> Void = { _, _ in },
                             onFinding: (Finding) throws -> Void) throws {
        guard let writer else { preconditionFailure("resume(onFinding:) starts the writer before run") }
        let fd: Int32
        if path == "-" { fd = 0 } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw ReadError(errno: errno, source: path) }
        }
        defer { if fd != 0 { close(fd) } }
        let display = path == "-" ? "<stdin>" : path
        var identity: SourceCheckpoint?
        var start: (offset: Int64, line: Int) = (0, 1)
        if fd != 0, case .success(let st) = FileProbe.stat(fd: fd), st.isRegular {
            let key = Self.canonicalPath(path)
            let fingerprint = FileProbe.fingerprint(fd: fd)
            identity = SourceCheckpoint(path: key, device: st.id.device, inode: st.id.inode, fingerprint: fingerprint, offset: 0, line: 1)
            if let c = checkpoints[key], fingerprint != 0, c.fingerprint == fingerprint, c.device == st.id.device,
               c.inode == st.id.inode, c.offset <= st.size, c.offset > 0 {
                var at = c.offset
                // The last run took a last line that had no newline yet (it
                // was a whole event): the newline written after it since is
                // that line's end, not an empty line.
                var around: (UInt8, UInt8) = (0, 0)
                if pread(fd, &around.0, 1, off_t(at - 1)) == 1, around.0 != 10, pread(fd, &around.1, 1, off_t(at)) == 1, around.1 == 10 {
                    at += 1
                }
                guard lseek(fd, off_t(at), SEEK_SET) == off_t(at) else { throw ReadError(errno: errno, source: path) }
                start = (at, c.line)
                resumed.append((path, at))
            }
        }
        let source = identity?.path ?? display
        let limit = engine.config.lineLimit
        var next = start
        // Where to resume when the last line is held back.
        var held: LinePosition?
        let bytes = try reader.read(fd: fd, source: display, startOffset: start.offset, startLine: start.line) { item, pos, terminated in
            if batch.events.count + batch.rejections.count >= batchSize {
                // Everything before this line is processed: hand it over with this position.
                if var c = identity { c.offset = pos.offset; c.line = pos.line; batch.checkpoints.append(c) }
                if sinceSnapshot >= snapshotEvery {
                    batch.snapshot = engine.state
                    sinceSnapshot = 0
                }
                try writer.submit(batch)
                batch = WriteBatch(receivedAt: now())
                for f in writer.takeNewFindings() { storedFindings += 1; try onFinding(f) }
            }
            if !terminated, identity != nil, case .line(let line) = item, case .failure(let r) = decoder.decodeNext(line) {
                // A file's last line without a newline that is not a whole
                // event: its writer may not be done. Neither rejected nor
                // passed: the checkpoint stays before it, and the next run
                // reads it whole (a rejected half would lose the event).
                held = pos
                heldBack.append((pos, r.message))
                return
            }
            stats.lines += 1
            switch item {
            case .tooLong(let len):
                let r = Rejection(.tooLong, "line longer than the limit of \(limit) bytes (\(len)+ bytes)")
                stats.reject(r, at: pos)
                onRejection(r, pos)
                batch.rejections.append(.init(rejection: r, raw: [], length: len, source: source, line: pos.line, offset: pos.offset))
            case .line(let line):
                switch decoder.decodeNext(line) {
                case .success(let event):
                    stats.accepted += 1
                    batch.events.append(.init(event: event, source: source, line: pos.line, offset: pos.offset))
                    batch.summary.add(event)
                    engine.ingest(event)
                    sinceSnapshot += 1
                    if engine.hasFindings { batch.findings += engine.takeFindings() }
                case .failure(let r):
                    stats.reject(r, at: pos)
                    onRejection(r, pos)
                    batch.rejections.append(.init(rejection: r, raw: Array(line.prefix(rejectedBytesCap)), length: line.count,
                                                  source: source, line: pos.line, offset: pos.offset))
                }
            }
            next = (pos.offset, pos.line + 1)
        }
        stats.bytes += bytes
        if var c = identity {
            c.offset = held?.offset ?? start.offset + bytes
            c.line = held?.line ?? next.line
            batch.checkpoints.append(c)
            checkpoints[c.path] = c
        }
    }

    /// End of input: every event is processed and reached deadlines fire, and
    /// everything is committed. The snapshot keeps the state from before this
    /// flush, so a later run over more input goes on as if this one had not ended.
    package mutating func finish(onFinding: (Finding) throws -> Void) throws {
        guard let writer else { preconditionFailure("resume(onFinding:) starts the writer before finish") }
        batch.snapshot = engine.state
        engine.finish()
        batch.findings += engine.takeFindings()
        sinceSnapshot = 0
        try writer.submit(batch)
        batch = WriteBatch(receivedAt: now())
        self.writer = nil
        try writer.finish()
        for f in writer.takeNewFindings() { storedFindings += 1; try onFinding(f) }
        try store.flushBulkTables()
    }

    /// Stops after a failure: batches already handed over are committed (each
    /// is a consistent prefix of the input), the rest is dropped.
    package mutating func abort() {
        guard let writer else { return }
        self.writer = nil
        try? writer.finish()
        store.rollback()
    }

    /// The absolute path with symlinks resolved, so one file has one checkpoint.
    static func canonicalPath(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }
}
