import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `jitaudit`: audits Just-In-Time action approvals.
@main
struct JITAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jitaudit",
        abstract: "Audit Just-In-Time action approvals: detect self-approval, rubber-stamping, executions without approval and more.",
        subcommands: [Replay.self, Run.self, Check.self, Findings.self, Events.self, Report.self, Verify.self, Prune.self, Emit.self]
    )

    /// Exit codes per SPEC §4: usage errors are 2 (ArgumentParser's default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Glibc.exit(Exit.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
