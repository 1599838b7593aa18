import ArgumentParser
import JITAuditCore
import JITAuditDaemon

/// `jitaudit check`: validates configuration and rules without running anything.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the configuration and rule files; every problem is reported as file:line:column (exit 2)."
    )

    @OptionGroup var engineOptions: EngineOptions

    func run() throws {
        do {
            let (config, settings, rules) = try engineOptions.load(resolveAccounts: true)
            let n = rules.rules.count
            print("ok: \(n) rule\(n == 1 ? "" : "s") from \(engineOptions.ruleSource(settings)); timezone \(config.timezone), allowed lateness \(config.allowedLateness)")
            for r in rules.rules { print("  \(r.id) (\(r.severity.rawValue))\(r.description.isEmpty ? "" : ": \(r.description)")") }
        } catch let e as ConfigurationFailure {
            printError(e.description)
            throw Exit.usage
        }
    }
}
