import ArgumentParser
import JITAuditCore
import JITAuditDaemon
import JITAuditStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `jitaudit run`: the daemon.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: tail files and the socket, keep the audit log, raise findings to the configured sinks."
    )

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration file; built-in defaults where it is absent.", valueName: "FILE"))
    var configPath = "/etc/jitaudit/jitaudit.yaml"

    @Option(name: .customLong("rules"), help: ArgumentHelp("Rule file or folder (repeatable); overrides the configuration's rules.", valueName: "PATH"))
    var rulePaths: [String] = []

    @Option(help: ArgumentHelp("SQLite database; overrides the configuration's database.", valueName: "FILE"))
    var db: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            // File names and error texts come from outside: no forged log lines.
            return EscapingLogHandler(h)
        }
        let logger = Logger(label: "jitaudit")
        var (config, settings, rules): (EngineConfig, DaemonSettings, RuleSet)
        switch RuleSourcesLoader.load(configPath: configPath, rulePaths: rulePaths) {
        case .success(let v): (config, settings, rules) = v
        case .failure(let e):
            printError(e.description)
            throw Exit.usage
        }
        if let db { settings.database = db }
        signal(SIGPIPE, SIG_IGN)
        var runner = DaemonRunner(configPath: configPath, engineConfig: config, settings: settings, rules: rules, logger: logger,
                                  openJournal: { path in try StoreJournal(path: path) },
                                  makeSources: { pipeline, settings, logger in
                                      try SocketSourceFactory.make(pipeline: pipeline, settings: settings, engineConfig: config, logger: logger)
                                  })
        runner.ruleOverride = rulePaths
        do { try await runner.run() } catch {
            printError("jitaudit run: \(error)")
            throw Exit.runtimeFailure
        }
    }
}
