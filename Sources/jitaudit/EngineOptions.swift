import ArgumentParser
import JITAuditCore
import JITAuditDaemon

/// `--rules` and `--config`, shared by the commands that run or check the engine.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: ArgumentHelp("Rule file or folder of *.yaml files (repeatable). Default: the built-in rules/default.yaml.", valueName: "PATH"))
    var rulePaths: [String] = []

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration file (timezone, holidays, trusted_networks, allowed_lateness, line_limit, …).", valueName: "FILE"))
    var configPath: String?

    /// Loads config and rules, or exits 2 with every located problem on stderr.
    func load() throws -> (EngineConfig, RuleSet) {
        let config: EngineConfig
        switch RuleSources.config(configPath) {
        case .success(let c): config = c
        case .failure(let e): throw ConfigurationFailure(e)
        }
        switch RuleSources.ruleSet(rulePaths: rulePaths, config: config) {
        case .success(let r): return (config, r)
        case .failure(let e): throw ConfigurationFailure(e)
        }
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
