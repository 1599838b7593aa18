import ArgumentParser
import JITAuditStore

/// `jitaudit verify`: checks the audit log's hash chain.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the audit log's hash chain: exit 0 with the row count when intact, exit 1 naming the first broken row.",
        discussion: """
            Every row's SHA-256 covers its content and the previous row's hash, and the database records the chain's \
            newest row (and, after pruning, the hash the oldest kept row chains from). A row edited, deleted or \
            inserted by hand is reported. Keep the printed head hash elsewhere to detect a rewrite of the whole chain.
            """
    )

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.open(.read, command: "verify")
        let report: ChainReport
        do { report = try store.verifyChain() } catch {
            printError("jitaudit verify: \(error)")
            throw Exit.runtimeFailure
        }
        if let problem = report.problem {
            print("jitaudit verify: \(database.path): audit log BROKEN at \(problem)")
            print("  \(report.rows) rows before it are intact")
            throw Exit.runtimeFailure
        }
        let range = report.rows == 0 ? "" : " (seq \(report.firstSeq)–\(report.lastSeq))"
        print("ok: \(report.rows) events\(range), hash chain intact; head \(report.headHash)")
    }
}
