import JITAuditCore
import Logging
import ServiceLifecycle
import UnixSignals

/// Drives the pipeline's clock: every `tickInterval` event time flows with
/// the wall clock (so deadlines fire in a live stream). On graceful shutdown
/// it takes a final engine snapshot, after the sources have stopped.
public struct PipelineService: Service {
    let pipeline: Pipeline
    let tickInterval: Duration
    let logger: Logger
    let onReady: @Sendable () -> Void
    let retention: TimeSpan?

    public init(pipeline: Pipeline, tickInterval: Duration = .seconds(1), retention: TimeSpan? = nil, logger: Logger,
                onReady: @escaping @Sendable () -> Void = {}) {
        self.pipeline = pipeline
        self.retention = retention
        self.tickInterval = tickInterval
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        onReady()
        await cancelWhenGracefulShutdown {
            var ticks = 0
            while !Task.isCancelled {
                do { try await Task.sleep(for: tickInterval) } catch { break }
                ticks += 1
                // Retention runs at start and then hourly, in batches inside the store.
                if let retention, ticks % 3600 == 1 {
                    do {
                        let n = try await pipeline.prune(olderThan: retention)
                        if n > 0 { logger.info("audit log pruned", metadata: ["jitaudit.pruned": "\(n)", "jitaudit.retention": "\(retention)"]) }
                    } catch {
                        logger.error("audit log prune failed", metadata: ["jitaudit.error": "\(error)"])
                    }
                }
                // The index file deleted by hand: a stat() every few seconds notices.
                if ticks % 5 == 0 {
                    do {
                        if let note = try await pipeline.repairDerivedFiles() { logger.warning("\(note)") }
                    } catch {
                        logger.error("reopening the index file failed", metadata: ["jitaudit.error": "\(error)"])
                    }
                }
                do { try await pipeline.tick() } catch {
                    logger.error("store write failed; stopping", metadata: ["jitaudit.error": "\(error)"])
                    break
                }
            }
        }
        try await pipeline.checkpoint()
        logger.info("pipeline checkpointed")
    }
}

/// Reloads rules and configuration on SIGHUP: validated first; on any error
/// the old rules stay and every problem is logged with its location. The
/// rules and the engine's keys apply at once; the daemon's own keys (the
/// database, sources, sinks, intervals, retention) and `line_limit` only at
/// the next start: a reload that changes them says which, in a warning.
public struct ReloadService: Service {
    let pipeline: Pipeline
    let load: @Sendable () -> Result<(EngineConfig, DaemonSettings, RuleSet), LoadError>
    let onReload: @Sendable () -> Void
    let logger: Logger
    /// What the daemon started with: the daemon keys in effect until a restart.
    let running: (config: EngineConfig, settings: DaemonSettings)

    public init(pipeline: Pipeline, logger: Logger, running: (EngineConfig, DaemonSettings), onReload: @escaping @Sendable () -> Void = {},
                load: @escaping @Sendable () -> Result<(EngineConfig, DaemonSettings, RuleSet), LoadError>) {
        self.pipeline = pipeline
        self.load = load
        self.onReload = onReload
        self.logger = logger
        self.running = running
    }

    /// The changed keys a reload does not apply.
    static func keysNeedingARestart(running: (config: EngineConfig, settings: DaemonSettings), new: (EngineConfig, DaemonSettings)) -> [String] {
        (running.config.lineLimit != new.0.lineLimit ? ["line_limit"] : []) + running.settings.keysNeedingARestart(new.1)
    }

    public func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            switch load() {
            case .failure(let e):
                for d in e.diagnostics { logger.error("reload refused; keeping the running rules", metadata: ["jitaudit.problem": "\(d)"]) }
            case .success(let (config, settings, rules)):
                await pipeline.reload(rules: rules, config: config)
                onReload()
                logger.info("rules reloaded, and the engine configuration", metadata: ["jitaudit.rules": "\(rules.rules.map(\.id).joined(separator: ","))"])
                let pending = Self.keysNeedingARestart(running: running, new: (config, settings))
                if !pending.isEmpty {
                    logger.warning("changed keys that only a restart applies; their running values stay until then",
                                   metadata: ["jitaudit.keys": "\(pending.joined(separator: ","))"])
                }
            }
        }
    }
}
