import ArgumentParser
import Foundation
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

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration file (default /etc/jitaudit/jitaudit.yaml, where the built-in defaults apply if it is absent; a file named here must exist).", valueName: "FILE"))
    var configOption: String?

    static let defaultConfigPath = "/etc/jitaudit/jitaudit.yaml"

    @Option(name: .customLong("rules"), help: ArgumentHelp("Rule file or folder (repeatable); overrides the configuration's rules.", valueName: "PATH"))
    var rulePaths: [String] = []

    @Option(help: ArgumentHelp("SQLite database; overrides the configuration's database.", valueName: "FILE"))
    var db: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        EarlyStop.install()
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            // File names and error texts come from outside: no forged log lines.
            return EscapingLogHandler(h)
        }
        let logger = Logger(label: "jitaudit")
        let configPath = configOption ?? Self.defaultConfigPath
        // The default file need not exist; one named on the command line
        // must (a mistyped path is not a request for the defaults). Once it
        // exists at start, reloads need it too.
        let configRequired = configOption != nil || FileManager.default.fileExists(atPath: configPath)
        var (config, settings, rules): (EngineConfig, DaemonSettings, RuleSet)
        switch RuleSourcesLoader.load(configPath: configPath, optional: !configRequired, rulePaths: rulePaths) {
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
        runner.configRequired = configRequired
        runner.databaseOverride = db
        do { try await runner.run() } catch {
            printError("jitaudit run: \(error)")
            throw Exit.runtimeFailure
        }
    }
}
