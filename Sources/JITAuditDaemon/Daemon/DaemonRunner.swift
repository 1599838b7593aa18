#if canImport(Glibc)
import Glibc
#endif
import Foundation
import JITAuditCore
import Logging
import ServiceLifecycle

/// Assembles `jitaudit run`: sinks, pipeline, reloader, sources and the
/// systemd notifier in one `ServiceGroup`. Graceful shutdown runs in reverse:
/// the notifier says STOPPING, sources stop taking input, the pipeline takes
/// its final snapshot, the sinks drain last.
public struct DaemonRunner {
    public var configPath: String?
    /// `--rules` given on the command line: they win over the configuration's on reloads too.
    public var ruleOverride: [String] = []
    /// The configuration file must exist, at start and at every reload (it
    /// was named on the command line, or it existed at start): a missing one
    /// is an error, never a silent return to the defaults.
    public var configRequired = false
    /// `--db` given on the command line: it wins over the configuration's on reloads too.
    public var databaseOverride: String?
    public var engineConfig: EngineConfig
    public var settings: DaemonSettings
    public var rules: RuleSet
    public var logger: Logger
    /// Opens the store and returns it as the pipeline's journal.
    public var openJournal: (String) throws -> any AuditJournal
    /// Extra sources (the socket source) built once the pipeline exists.
    public var makeSources: (Pipeline, DaemonSettings, Logger) throws -> [any Service]

    public init(configPath: String?, engineConfig: EngineConfig, settings: DaemonSettings, rules: RuleSet, logger: Logger,
                openJournal: @escaping (String) throws -> any AuditJournal,
                makeSources: @escaping (Pipeline, DaemonSettings, Logger) throws -> [any Service] = { _, _, _ in [] }) {
        self.configPath = configPath
        self.engineConfig = engineConfig
        self.settings = settings
        self.rules = rules
        self.logger = logger
        self.openJournal = openJournal
        self.makeSources = makeSources
    }

    /// The database path: configured, else `$STATE_DIRECTORY/jitaudit.db`, else `./jitaudit.db`.
    public static func databasePath(_ settings: DaemonSettings) -> String {
        if let p = settings.database { return p }
        if let dir = ProcessInfo.processInfo.environment["STATE_DIRECTORY"]?.split(separator: ":").first {
            return "\(dir)/jitaudit.db"
        }
        return "jitaudit.db"
    }

    public func run() async throws {
        let sinks = try makeSinks()
        let journal = try openJournal(DaemonRunner.databasePath(settings))
        if let note = (journal as? StoreJournal)?.store.indexFileNote { logger.notice("\(note)") }
        if let sched = (journal as? StoreJournal)?.store.indexWriterScheduling {
            if sched.idle { logger.info("\(sched.message)") } else { logger.warning("\(sched.message)") }
        }
        let pipeline = Pipeline(engine: Engine(rules: rules, config: engineConfig), journal: journal,
                                snapshotInterval: settings.snapshotInterval, logger: logger,
                                wallClock: { WallClock.now() }, deliver: { sinks.deliver($0) })
        let checkpoints = try await pipeline.resume()
        var sources: [any Service] = []
        if !settings.files.isEmpty {
            let cfg = FileSourceConfig(paths: settings.files, pollInterval: .microseconds(settings.pollInterval.micros),
                                       inotify: settings.inotify, lineLimit: engineConfig.lineLimit,
                                       maxBatchLines: settings.maxBatchLines, rotateWait: .microseconds(settings.rotateWait.micros),
                                       globInterval: .microseconds(settings.globInterval.micros))
            sources.append(FileTailer(config: cfg, intake: pipeline, checkpoints: Array(checkpoints.values), logger: logger))
        }
        sources += try makeSources(pipeline, settings, logger)
        let notifier = Notifier()
        let started = WallClock.now()
        let status = StatusBox()
        let statusTask = Task {
            var last = (accepted: 0, at: started)
            while !Task.isCancelled {
                let c = await pipeline.counters, s = await pipeline.stats, w = await pipeline.watermark
                let now = WallClock.now()
                let secs = max(0.001, Double((now - last.at).micros) / 1e6)
                let rate = Int(Double(c.accepted - last.accepted) / secs)
                last = (c.accepted, now)
                // Lag: how far the watermark (what is final) trails the wall clock.
                let lag = w > .distantPast ? "\((now - w).description)" : "-"
                let losses = sinks.losses
                status.set("\(rate) events/s, \(c.accepted) events, \(c.rejected) rejected, \(s.findings) findings, lag \(lag), sink drops \(losses.dropped), evicted \(s.evicted)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        defer { statusTask.cancel() }
        let configPath = self.configPath, ruleOverride = self.ruleOverride, configRequired = self.configRequired
        let databaseOverride = self.databaseOverride
        let reload = ReloadService(pipeline: pipeline, logger: logger, running: (engineConfig, settings), onReload: { sinks.reopen() }) {
            RuleSourcesLoader.load(configPath: configPath, optional: !configRequired, rulePaths: ruleOverride).map { loaded in
                var (config, settings, rules) = loaded
                if let databaseOverride { settings.database = databaseOverride }
                return (config, settings, rules)
            }
        }
        let services: [any Service] = [sinks, PipelineService(pipeline: pipeline, retention: settings.retention, logger: logger, onReady: {
            notifier.ready(status: "started")
        }), reload] + sources + [NotifierService(notifier: notifier, statusInterval: .microseconds(settings.statusInterval.micros), status: { status.get() })]
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("jitaudit running", metadata: ["jitaudit.database": "\(DaemonRunner.databasePath(settings))",
                                                   "jitaudit.rules": "\(rules.rules.count)", "jitaudit.files": "\(settings.files.count)"])
        // A stop asked for while starting (see EarlyStop) is carried out now, gracefully.
        let log = logger
        let earlyStop = Task { [group] in
            while !Task.isCancelled {
                if EarlyStop.signal != 0 {
                    log.info("stop requested by signal \(EarlyStop.signal)")
                    await group.triggerGracefulShutdown()
                    return
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { earlyStop.cancel() }
        try await group.run()
    }

    func makeSinks() throws -> SinkFanout {
        var sinks: [any FindingSink] = []
        switch settings.sinks.stdout {
        case .json: sinks.append(StdoutSink(format: .json))
        case .text: sinks.append(StdoutSink(format: .text))
        case .off: break
        }
        if settings.sinks.syslog {
            sinks.append(SyslogSink(facility: SyslogFacility(name: settings.sinks.syslogFacility) ?? .authpriv))
        }
        if settings.sinks.journal { sinks.append(JournalSink(facility: SyslogFacility(name: settings.sinks.syslogFacility) ?? .authpriv)) }
        return SinkFanout(sinks: sinks, capacity: settings.sinks.queueCapacity, logger: logger)
    }
}

/// Reads config and rules from disk for `run` and its reloads.
public enum RuleSourcesLoader {
    /// `optional`: the defaults when the file does not exist (the default
    /// path, which an install need not have; a path given on the command
    /// line must exist).
    public static func load(configPath: String?, optional: Bool = true, rulePaths: [String]) -> Result<(EngineConfig, DaemonSettings, RuleSet), LoadError> {
        RuleSources.load(configPath: configPath, optional: optional, rulePaths: rulePaths, resolveAccounts: true)
    }
}

/// The wall clock, read only at the daemon's edge (never by detectors).
public enum WallClock {
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(micros: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }
}

final class StatusBox: @unchecked Sendable {
    // Guarded by `lock`; read by the notifier, written by the status task.
    private let lock = NSLock()
    private var text: String?
    func set(_ s: String) { lock.lock(); text = s; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return text }
}
