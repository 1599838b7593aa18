import ArgumentParser
import JITAuditCore
import JITAuditDaemon

/// `--rules` and `--config`, shared by the commands that run or check the engine.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: ArgumentHelp("Rule file or folder of *.yaml files (repeatable). Default: the built-in rules/default.yaml.", valueName: "PATH"))
    var rulePaths: [String] = []

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration file (timezone, holidays, trusted_networks, allowed_lateness, line_limit, …).", valueName: "FILE"))
    var configPath: String?

    /// Loads config and rules as `run` does (the rules named by `--rules`,
    /// else by the file's `rules:`, else the built-in ones), or throws every
    /// located problem of both. `resolveAccounts`: also report the socket's
    /// user and group names this host does not know (`check`).
    func load(resolveAccounts: Bool = false) throws -> (EngineConfig, DaemonSettings, RuleSet) {
        switch RuleSources.load(configPath: configPath, rulePaths: rulePaths, resolveAccounts: resolveAccounts) {
        case .success(let v): return v
        case .failure(let e): throw ConfigurationFailure(e)
        }
    }

    /// Where the rules come from, for a person to read.
    func ruleSource(_ settings: DaemonSettings) -> String {
        let paths = rulePaths.isEmpty ? settings.rules : rulePaths
        return paths.isEmpty ? "built-in \(DefaultRules.fileName)" : paths.joined(separator: ", ")
    }
}

/// Located configuration problems: printed one per line, exit code 2.
struct ConfigurationFailure: Error, CustomStringConvertible {
    var error: LoadError
    init(_ e: LoadError) { error = e }
    var description: String { error.description }
}

enum Exit {
    /// SPEC §4: 0 done, 1 runtime failure, 2 usage or configuration error.
    static let runtimeFailure = ExitCode(1)
    static let usage = ExitCode(2)
}

func printError(_ s: String) {
    let w = OutputWriter(fd: 2)
    w.writeLine(s)
    w.flush()
}
