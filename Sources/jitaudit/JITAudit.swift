import ArgumentParser

/// `jitaudit`: audits Just-In-Time action approvals.
@main
struct JITAudit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jitaudit",
        abstract: "Audit Just-In-Time action approvals: detect self-approval, rubber-stamping, executions without approval and more.",
        subcommands: [Replay.self, Check.self]
    )
}
