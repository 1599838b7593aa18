import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The file source's state and one pass over it (`tick`): find files, notice
/// rotation and truncation, read what is new. Confined to the task running
/// ``FileTailer/run()``.
final class TailerEngine {
    /// A position in a generation of a file that no open file continues:
    /// a stored checkpoint not matched yet, or a truncated file's old content.
    struct Generation {
        var key: String
        var id: FileID
        var fingerprint: UInt64
        var offset: Int64
        var line: Int
        var fromCheckpoint: Bool
    }

    private let config: FileSourceConfig
    private let intake: any LineIntake
    private let logger: Logger
    private let stats: FileTailer.StatsBox
    private let watcher: FileWatcher
    private let clock = ContinuousClock()
    private var files: [FileID: TailedFile] = [:]
    private var generations: [Generation]
    /// The file whose checkpoint was last stored under a key: a rotated file
    /// read after its successor has begun stores none (it would send a restart back).
    private var checkpointOwner: [String: FileID] = [:]
    /// The problem last logged per path, so each is logged once (and its end too).
    private var problems: [String: String] = [:]
    private var sequence = 0
    private var lastGlob: ContinuousClock.Instant?
    private var firstScan = true
    private let buffer: UnsafeMutableRawBufferPointer
    /// Batches read from one file per tick before the others get their turn.
    private let batchesPerTick = 16
    static let maxGenerations = 1024

    init(config: FileSourceConfig, intake: any LineIntake, checkpoints: [FileCheckpoint], logger: Logger,
         stats: FileTailer.StatsBox, watcher: FileWatcher) {
        self.config = config; self.intake = intake; self.logger = logger; self.stats = stats; self.watcher = watcher
        generations = checkpoints.map {
            Generation(key: $0.path, id: FileID(device: $0.device, inode: $0.inode), fingerprint: $0.fingerprint,
                       offset: $0.offset, line: $0.line, fromCheckpoint: true)
        }
        buffer = .allocate(byteCount: max(1 << 20, min(config.lineLimit + 1, 16 << 20)), alignment: 16)
    }

    deinit { buffer.deallocate() }

    func closeAll() {
        files.removeAll()
        updateOpenCount()
    }

    /// One pass. True when a file has more to read right away.
    func tick() async throws -> Bool {
        let now = clock.now
        let seen = scan(now: now)
        reconcile(seen, now: now)
        discover(seen, now: now)
        if firstScan { recoverFromCheckpoints(now: now) }
        firstScan = false
        for f in files.values where f.role != .shadow && f.role != .recovery {
            if checkTruncated(f, now: now) { handleTruncation(f, now: now) }
        }
        updateOpenCount()
        return try await readAll(now: now)
    }

    // MARK: finding files

    private struct Seen {
        var paths: [(String, FileStat)] = []
        var byID: [FileID: String] = [:]
    }

    private func scan(now: ContinuousClock.Instant) -> Seen {
        var seen = Seen()
        let structural = watcher.takeStructuralChange()
        let globDue = firstScan || !watcher.usesInotify || structural
            || lastGlob.map { now - $0 >= config.globInterval } ?? true
        var candidates: [String] = []
        var literal = Set<String>()
        var globFailed = false
        for p in config.paths {
            if !FileProbe.isPattern(p) { literal.insert(p); candidates.append(p) }
            else if globDue {
                if let matched = FileProbe.expand(p) {
                    candidates += matched
                    report(p, nil)
                } else {
                    // Not "nothing matches": its files must not be taken for rotated away.
                    globFailed = true
                    report(p, "cannot expand the glob: \(String(cString: strerror(errno))); its open files are kept, new ones wait")
                }
            }
            let dir = FileProbe.dirname(p)
            if !FileProbe.isPattern(dir) { watcher.watch(directory: dir) }
        }
        if globDue { lastGlob = now }
        if !globDue || globFailed { for f in files.values where f.role == .live || f.role == .shadow { candidates.append(f.path) } }
        var visited = Set<String>()
        for path in candidates where visited.insert(path).inserted {
            switch FileProbe.stat(path: path) {
            case .failure(let e):
                if e.errno == ENOENT || e.errno == ENOTDIR {
                    if literal.contains(path) { report(path, "waiting for it to appear", warn: false) }
                } else {
                    report(path, "cannot stat: \(e)")
                }
            case .success(let st):
                if st.isDirectory {
                    if literal.contains(path) { report(path, "is a directory, not a file; skipped") }
                    continue
                }
                guard st.isRegular else {
                    if literal.contains(path) { report(path, "is not a regular file; skipped") }
                    continue
                }
                if seen.byID[st.id] == nil {
                    seen.byID[st.id] = path
                    seen.paths.append((path, st))
                }
            }
        }
        return seen
    }

    /// Files that moved: adopted under their new matched name, or orphaned.
    private func reconcile(_ seen: Seen, now: ContinuousClock.Instant) {
        for f in files.values {
            if let p = seen.byID[f.id] {
                if case .orphan = f.role {
                    f.role = .live
                    logger.info("rotated file matched again", metadata: meta(f, ["jitaudit.source.new_path": "\(p)"]))
                }
                if f.path != p, f.role == .live || f.role == .shadow {
                    logger.info("file renamed", metadata: meta(f, ["jitaudit.source.new_path": "\(p)"]))
                    f.path = p
                    f.key = p
                    f.keyNeedsCheckpoint = true
                }
                continue
            }
            switch f.role {
            case .live:
                let deleted = (try? FileProbe.stat(fd: f.fd).get())?.links == 0
                f.role = .orphan(since: now)
                stats.value.withLock { $0.rotations += 1 }
                logger.info(deleted ? "file deleted; reading it to its end" : "file rotated; reading the old one to its end",
                            metadata: meta(f))
            case .shadow:
                drop(f)
            case .orphan, .recovery:
                break
            }
        }
    }

    private func discover(_ seen: Seen, now: ContinuousClock.Instant) {
        for (path, st) in seen.paths where files[st.id] == nil {
            let fd: Int32
            switch FileProbe.openForReading(path) {
            case .failure(let e):
                report(path, "cannot open: \(e)")
                continue
            case .success(let d): fd = d
            }
            guard case .success(let real) = FileProbe.stat(fd: fd), real.isRegular, files[real.id] == nil else {
                close(fd)
                continue
            }
            report(path, nil)
            sequence += 1
            let f = TailedFile(path: path, key: path, fd: fd, id: real.id, role: .live, sequence: sequence, now: now)
            f.fingerprint = FileProbe.fingerprint(fd: fd)
            files[real.id] = f
            watcher.watch(directory: FileProbe.dirname(path))
            place(f, size: real.size)
        }
    }

    /// Where a newly found file starts: its checkpoint, the position of the
    /// generation it is a copy of, nowhere (a shadow of a file being read), or 0.
    private func place(_ f: TailedFile, size: Int64) {
        if let g = takeGeneration(where: {
            $0.id == f.id && ($0.fingerprint == 0 || $0.fingerprint == f.fingerprint) && $0.offset <= size
        }) {
            f.seek(offset: g.offset, line: g.line)
            logger.debug("resuming file", metadata: meta(f, ["jitaudit.source.offset": "\(g.offset)"]))
            return
        }
        if classifyByFingerprint(f, size: size) { return }
        logger.info("new file; reading from its start", metadata: meta(f))
    }

    /// For a file whose fingerprint is known and nothing of which was handed
    /// out: a copy of a generation another file reads becomes a shadow; a copy
    /// of a retired or checkpointed generation continues it. True if either.
    private func classifyByFingerprint(_ f: TailedFile, size: Int64) -> Bool {
        guard f.fingerprint != 0 else { return false }
        if files.values.contains(where: {
            $0 !== f && $0.role != .shadow && $0.fingerprint == f.fingerprint && FileProbe.isRotatedSibling(f.path, of: $0.path)
        }) {
            f.role = .shadow
            logger.debug("file is a copy of one being read; not read", metadata: meta(f))
            return true
        }
        if let g = takeGeneration(where: {
            $0.fingerprint == f.fingerprint && $0.offset <= size && FileProbe.isRotatedSibling(f.path, of: $0.key)
        }) {
            f.seek(offset: g.offset, line: g.line)
            stats.value.withLock { $0.recovered += 1 }
            logger.info("file continues a known generation; reading from there",
                        metadata: meta(f, ["jitaudit.source.offset": "\(g.offset)"]))
            return true
        }
        return false
    }

    /// After the first scan: a checkpoint whose file is no longer at its path
    /// (rotated or truncated while the daemon was down) is continued from the
    /// rotated file beside the path, found by inode or fingerprint.
    private func recoverFromCheckpoints(now: ContinuousClock.Instant) {
        for g in generations where g.fromCheckpoint && g.fingerprint != 0 && isConfigured(g.key) {
            if openRecovery(key: g.key, generation: g, now: now) {
                generations.removeAll { $0.fromCheckpoint && $0.key == g.key && $0.id == g.id }
            }
        }
    }

    /// True when a configured path or glob names `path` (a checkpoint of a path
    /// no longer configured is not followed into its rotated files).
    private func isConfigured(_ path: String) -> Bool {
        config.paths.contains { $0 == path || (FileProbe.isPattern($0) && fnmatch($0, path, FNM_PATHNAME) == 0) }
    }

    private func openRecovery(key: String, generation g: Generation, now: ContinuousClock.Instant) -> Bool {
        for candidate in FileProbe.rotatedSiblings(of: key) {
            guard case .success(let st) = FileProbe.stat(path: candidate), st.isRegular,
                  st.size > g.offset, files[st.id] == nil,
                  case .success(let fd) = FileProbe.openForReading(candidate) else { continue }
            guard case .success(let real) = FileProbe.stat(fd: fd), files[real.id] == nil,
                  FileProbe.fingerprint(fd: fd) == g.fingerprint else { close(fd); continue }
            sequence += 1
            let f = TailedFile(path: candidate, key: key, fd: fd, id: real.id, role: .recovery, sequence: sequence, now: now)
            f.fingerprint = g.fingerprint
            f.seek(offset: g.offset, line: g.line)
            files[real.id] = f
            stats.value.withLock { $0.recovered += 1 }
            logger.info("reading the rest of a rotated generation from its copy",
                        metadata: meta(f, ["jitaudit.source.offset": "\(g.offset)", "jitaudit.source.for": "\(key)"]))
            return true
        }
        return false
    }

    private func takeGeneration(where match: (Generation) -> Bool) -> Generation? {
        guard let i = generations.firstIndex(where: match) else { return nil }
        return generations.remove(at: i)
    }

    // MARK: truncation

    private func checkTruncated(_ f: TailedFile, now: ContinuousClock.Instant) -> Bool {
        guard case .success(let st) = FileProbe.stat(fd: f.fd) else { return false }
        let changed = st.size != f.lastSize || st.mtime != f.lastMtime
        if st.size > f.lastSize { f.lastGrowth = now }
        f.lastSize = st.size
        f.lastMtime = st.mtime
        if st.size < f.scanOffset { return true }
        return changed && f.fingerprint != 0 && FileProbe.fingerprint(fd: f.fd) != f.fingerprint
    }

    private func handleTruncation(_ f: TailedFile, now: ContinuousClock.Instant) {
        stats.value.withLock { $0.truncations += 1 }
        logger.notice("file truncated; reading it from the start", metadata: meta(f, ["jitaudit.source.offset": "\(f.offset)"]))
        let old = Generation(key: f.key, id: f.id, fingerprint: f.fingerprint, offset: f.offset, line: f.line,
                             fromCheckpoint: false)
        f.restart()
        f.lastSize = -1
        if checkpointOwner[f.key] == f.id { checkpointOwner[f.key] = nil }
        guard old.fingerprint != 0 else { return }
        // The old generation's tail may be in its copy: a shadow, or a rotated file beside it.
        if let s = files.values.first(where: { $0.role == .shadow && $0.fingerprint == old.fingerprint }) {
            s.role = .recovery
            s.seek(offset: old.offset, line: old.line)
            stats.value.withLock { $0.recovered += 1 }
            logger.info("continuing the truncated generation from its copy", metadata: meta(s, ["jitaudit.source.offset": "\(old.offset)"]))
            return
        }
        if openRecovery(key: f.key, generation: old, now: now) { return }
        logger.info("no copy of the truncated generation found beside it", metadata: meta(f))
        remember(old)
    }

    private func remember(_ g: Generation) {
        generations.append(g)
        if generations.count > Self.maxGenerations { generations.removeFirst(generations.count - Self.maxGenerations) }
    }

    // MARK: reading

    private func rank(_ f: TailedFile) -> Int {
        switch f.role {
        case .recovery: 0
        case .orphan: 1
        case .live: 2
        case .shadow: 3
        }
    }

    private func readAll(now: ContinuousClock.Instant) async throws -> Bool {
        var more = false
        let order = files.values.filter { $0.role != .shadow }.sorted { (rank($0), $0.sequence) < (rank($1), $1.sequence) }
        for f in order {
            guard files[f.id] === f, f.role != .shadow else { continue }
            var batches = 0
            var atEnd = false
            reading: while true {
                if Task.isCancelled || Task.isShuttingDownGracefully { return false }
                var lines: [RawLine] = []
                let outcome: TailedFile.ReadOutcome
                let mark = f.mark()
                do {
                    outcome = try f.readLines(into: &lines, maxLines: config.maxBatchLines, maxBytes: config.maxBatchBytes,
                                              lineLimit: config.lineLimit, buffer: buffer)
                } catch {
                    report(f.path, "read failed: \(error)")
                    break reading
                }
                // Truncated and rewritten while we read? Then what we read may be
                // the new content at the old offset: take it back. (The check
                // before the read is the tick's or the previous read's.)
                if f.role != .recovery, !lines.isEmpty, f.fingerprint != 0, FileProbe.fingerprint(fd: f.fd) != f.fingerprint {
                    f.reset(to: mark)
                    handleTruncation(f, now: now)
                    more = true  // read the old generation's copy first, then this file anew
                    break reading
                }
                if !lines.isEmpty || f.keyNeedsCheckpoint { try await submit(f, lines) }
                switch outcome {
                case .learnedFingerprint:
                    if classifyByFingerprint(f, size: Int64.max), f.role == .shadow { break reading }
                case .end:
                    atEnd = true
                    break reading
                case .full:
                    batches += 1
                    if batches >= batchesPerTick { more = true; break reading }
                }
            }
            if atEnd { try await finishIfDone(f, now: now) }
        }
        updateOpenCount()
        return more
    }

    /// Closes a rotated copy read to its end, or a rotated/deleted file read to
    /// its end that has not grown for the rotate wait. Its unterminated last
    /// line, if any, is handed out first: no newline can come any more. Its
    /// end position is remembered, so a glob that matches it later does not
    /// read it again.
    private func finishIfDone(_ f: TailedFile, now: ContinuousClock.Instant) async throws {
        switch f.role {
        case .recovery:
            break
        case .orphan(let since):
            guard now - since >= config.rotateWait, now - f.lastGrowth >= config.rotateWait else { return }
        case .live, .shadow:
            return
        }
        if let last = f.finalLine(lineLimit: config.lineLimit) {
            logger.warning("file ended without a newline; its last line is taken as it is", metadata: meta(f))
            try await submit(f, [last])
        }
        logger.info(f.role == .recovery ? "finished reading the rotated copy" : "finished reading the rotated file",
                    metadata: meta(f, ["jitaudit.source.lines": "\(f.line - 1)"]))
        try await checkpointWhereItLies(f)
        drop(f)
        remember(Generation(key: f.key, id: f.id, fingerprint: f.fingerprint, offset: f.offset, line: f.line, fromCheckpoint: false))
        if let s = files.values.first(where: { $0.role == .shadow && $0.fingerprint == f.fingerprint && f.fingerprint != 0 }) {
            s.role = .recovery
            s.seek(offset: f.offset, line: f.line)
            logger.info("a copy of the finished file continues it", metadata: meta(s))
        }
    }

    /// A finished generation (a rotated copy such as `app.log.1`, or the
    /// renamed old file) that a configured glob matches where it lies now:
    /// its own checkpoint there, at its end. Its lines are in the log, under
    /// the key it was read under, or it had none left to read (a copy of
    /// what was read already); without this a restart would find it as a
    /// new file and store them again (the memory of finished generations
    /// does not outlive the process).
    private func checkpointWhereItLies(_ f: TailedFile) async throws {
        func lies(at path: String) -> Bool {
            if case .success(let st) = FileProbe.stat(path: path), st.id == f.id { return true }
            return false
        }
        let candidates = [f.path] + FileProbe.rotatedSiblings(of: f.key)
        guard let here = candidates.first(where: { isConfigured($0) && lies(at: $0) }) else { return }
        let cp = FileCheckpoint(path: here, device: f.id.device, inode: f.id.inode, fingerprint: f.fingerprint, offset: f.offset, line: f.line)
        _ = try await intake.submit(LineBatch(source: here, lines: [], checkpoint: cp))
        logger.debug("checkpointed the finished generation where it lies", metadata: meta(f, ["jitaudit.source.at": "\(here)"]))
    }

    private func submit(_ f: TailedFile, _ lines: [RawLine]) async throws {
        let owner = checkpointOwner[f.key]
        let stores = f.role == .live || owner == nil || owner == f.id
        if stores { checkpointOwner[f.key] = f.id }
        if stores { f.keyNeedsCheckpoint = false }
        let batch = LineBatch(source: f.path, lines: lines, peer: nil, checkpoint: stores ? f.checkpoint() : nil)
        _ = try await intake.submit(batch)
        let tooLong = lines.reduce(0) { if case .tooLong = $1.content { $0 + 1 } else { $0 } }
        stats.value.withLock {
            $0.lines += UInt64(lines.count); $0.batches += 1; $0.tooLong += UInt64(tooLong)
        }
    }

    private func drop(_ f: TailedFile) {
        files[f.id] = nil
    }

    private func updateOpenCount() {
        let n = files.count
        stats.value.withLock { $0.openFiles = n }
    }

    // MARK: logging

    private func meta(_ f: TailedFile, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var m: Logger.Metadata = ["jitaudit.source.path": "\(f.path)", "jitaudit.source.inode": "\(f.id)"]
        if f.key != f.path { m["jitaudit.source.key"] = "\(f.key)" }
        m.merge(extra) { $1 }
        return m
    }

    /// Logs a path's problem once (and that it went away); nil clears it.
    private func report(_ path: String, _ problem: String?, warn: Bool = true) {
        guard problems[path] != problem else { return }
        if let problem {
            if warn {
                stats.value.withLock { $0.errors += 1 }
                logger.warning("file source: \(problem)", metadata: ["jitaudit.source.path": "\(path)"])
            } else {
                logger.info("file source: \(problem)", metadata: ["jitaudit.source.path": "\(path)"])
            }
            problems[path] = problem
        } else if problems.removeValue(forKey: path) != nil {
            logger.info("file source: path is readable", metadata: ["jitaudit.source.path": "\(path)"])
        }
    }
}
