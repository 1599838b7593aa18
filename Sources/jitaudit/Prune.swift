import ArgumentParser
import JITAuditCore
import JITAuditStore

/// `jitaudit prune`: retention for the audit log.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete audit-log events and rejected lines older than an age, in batches; the hash chain stays verifiable from the oldest kept row.",
        discussion: "Findings are kept. Events are cut as a prefix of the log (in arrival order), so an old event that arrived after a newer one goes with the next prune."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("older-than"), help: ArgumentHelp("Age of the oldest events to keep, by event time back from now (e.g. 90d, 26w).", valueName: "AGE"))
    var olderThan: TimeBound

    @Option(help: ArgumentHelp("Rows deleted per transaction.", valueName: "N"))
    var batchSize: Int = 10_000

    func run() throws {
        let store = try database.open(.write, command: "prune", create: false)
        let now = WallClock.now()
        do {
            let r = try store.prune(olderThan: olderThan.resolve(now: now), batchSize: batchSize, now: now)
            print("pruned \(r.events) events and \(r.rejections) rejected lines older than \(olderThan.resolve(now: now).rfc3339)")
        } catch {
            printError("jitaudit prune: \(error)")
            throw Exit.runtimeFailure
        }
    }
}
