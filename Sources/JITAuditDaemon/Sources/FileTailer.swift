import Logging
import ServiceLifecycle
import Synchronization

/// Configuration of the file source (`sources.files` in the config file).
public struct FileSourceConfig: Sendable, Hashable {
    /// Files and glob(3) patterns to tail (`/var/log/jit/*.jsonl`).
    public var paths: [String]
    /// How often files are looked at when nothing wakes the tailer earlier
    /// (inotify wakes it at once; the poll is the fallback).
    public var pollInterval: Duration
    /// Use inotify to notice changes at once (falls back to polling when unavailable).
    public var inotify: Bool
    /// Longest accepted line in bytes; a longer one is handed on as `.tooLong`.
    public var lineLimit: Int
    /// Most lines handed to the pipeline in one batch.
    public var maxBatchLines: Int
    /// Most line bytes in one batch (a batch closes after the line that reaches it), so a
    /// file that grows by a gigabyte of long lines is read a few MiB at a time, never
    /// `maxBatchLines` × `lineLimit` at once.
    public var maxBatchBytes: Int
    /// A rotated-away or deleted file is read until it has not grown for this long, then closed.
    public var rotateWait: Duration
    /// With inotify, globs are re-expanded at least this often (and on every directory change).
    public var globInterval: Duration

    public init(paths: [String], pollInterval: Duration = .milliseconds(250), inotify: Bool = true,
                lineLimit: Int = 65_536, maxBatchLines: Int = 4096, maxBatchBytes: Int = 4 << 20,
                rotateWait: Duration = .seconds(5), globInterval: Duration = .seconds(2)) {
        self.paths = paths; self.pollInterval = pollInterval; self.inotify = inotify
        self.lineLimit = lineLimit; self.maxBatchLines = maxBatchLines; self.maxBatchBytes = maxBatchBytes
        self.rotateWait = rotateWait
        self.globInterval = globInterval
    }
}

/// Counters of the file source, for `STATUS=` and the shutdown summary.
public struct FileSourceStats: Sendable, Hashable {
    /// Files open now (including rotated ones still being drained).
    public var openFiles = 0
    public var lines: UInt64 = 0
    public var batches: UInt64 = 0
    public var tooLong: UInt64 = 0
    /// Files that left their path (rename rotation, deletion).
    public var rotations: UInt64 = 0
    public var truncations: UInt64 = 0
    /// Generations continued from a rotated copy (copytruncate) or resumed by fingerprint.
    public var recovered: UInt64 = 0
    /// Paths that could not be read (permissions, not a regular file, read errors).
    public var errors: UInt64 = 0
    public init() {}
}

/// Tails files and globs into a ``LineIntake``.
///
/// Each file resumes from its ``FileCheckpoint`` (matched by device, inode
/// and fingerprint, or by fingerprint alone for a copy), new files start at
/// their beginning. Follows rename rotation (the old file is read to its end
/// before the new one at the path), copytruncate and truncation (a file that
/// shrank or whose first line changed starts over; the lost tail of the old
/// generation is read from its rotated copy beside it when there is one),
/// deletion while open (drained, then closed) and a partial last line (handed
/// out once its newline is there). Lines go to the intake in batches of one
/// file, each with the checkpoint after its last line; `submit` suspending
/// stops the reading (back-pressure).
public struct FileTailer: Service {
    public let config: FileSourceConfig
    private let intake: any LineIntake
    private let checkpoints: [FileCheckpoint]
    private let logger: Logger
    private let statsBox = StatsBox()

    public init(config: FileSourceConfig, intake: any LineIntake, checkpoints: [FileCheckpoint] = [], logger: Logger) {
        self.config = config; self.intake = intake; self.checkpoints = checkpoints; self.logger = logger
    }

    public var stats: FileSourceStats { statsBox.value.withLock { $0 } }

    /// Tails until the task is cancelled or a graceful shutdown begins; a batch
    /// handed to the intake is always finished first. Rethrows the intake's
    /// errors (except `CancellationError`, which ends it quietly).
    public func run() async throws {
        let watcher = FileWatcher(pollInterval: config.pollInterval, useInotify: config.inotify)
        if config.inotify && !watcher.usesInotify {
            logger.warning("inotify unavailable; polling files", metadata: ["jitaudit.source.poll_interval": "\(config.pollInterval)"])
        }
        watcher.start()
        defer { watcher.stop() }
        let engine = TailerEngine(config: config, intake: intake, checkpoints: checkpoints, logger: logger,
                                  stats: statsBox, watcher: watcher)
        defer { engine.closeAll() }
        logger.info("file source started", metadata: [
            "jitaudit.source.paths": "\(config.paths.joined(separator: ", "))",
            "jitaudit.source.inotify": "\(watcher.usesInotify)",
        ])
        do {
            if try await engine.tick() { watcher.poke() }
            for await _ in watcher.wakeups.cancelOnGracefulShutdown() {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                if try await engine.tick() { watcher.poke() }
            }
        } catch is CancellationError {
            // The intake was cancelled with us: a stop, not a failure.
        }
        logger.info("file source stopped", metadata: ["jitaudit.source.lines": "\(stats.lines)"])
    }

    final class StatsBox: Sendable {
        let value = Mutex(FileSourceStats())
    }
}
