import ArgumentParser
import JITAuditCore
import JITAuditDaemon
import JITAuditStore

/// `jitaudit findings`: lists stored findings.
struct Findings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the findings stored in a database, oldest first (by event time)."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Findings at or after this time: \(TimeBound.help).", valueName: "TIME"))
    var since: TimeBound?

    @Option(help: ArgumentHelp("Findings before this time: \(TimeBound.help).", valueName: "TIME"))
    var until: TimeBound?

    @Option(help: ArgumentHelp("Only this rule id.", valueName: "RULE"))
    var rule: String?

    @Option(help: ArgumentHelp("Only findings about this actor (case-insensitive).", valueName: "ACTOR"))
    var actor: String?

    @Option(help: ArgumentHelp("Only this severity (info, low, medium, high, critical); add '+' for it and above, e.g. high+.",
                               valueName: "SEVERITY"))
    var severity: String?

    @Option(help: ArgumentHelp("At most this many findings.", valueName: "N"))
    var limit: Int?

    @Option(help: "Output format: text, json or csv (default: text on a terminal, json otherwise).")
    var format: ListFormat?

    func validate() throws {
        if let severity, Findings.severities(severity) == nil {
            throw ValidationError("--severity: expected one of info, low, medium, high, critical (optionally with '+'), got '\(severity)'")
        }
    }

    static func severities(_ s: String) -> [Severity]? {
        let atLeast = s.hasSuffix("+")
        guard let sev = Severity(rawValue: String(atLeast ? s.dropLast() : s[...]).lowercased()) else { return nil }
        return atLeast ? Severity.allCases.filter { $0 >= sev } : [sev]
    }

    func run() throws {
        let now = WallClock.now()
        let period = try TimeBound.period(since, until, now: now, command: "findings")
        let store = try database.open(.read, command: "findings")
        var filter = FindingFilter()
        (filter.since, filter.until) = period
        filter.rule = rule
        filter.actor = actor
        filter.severities = severity.flatMap(Findings.severities) ?? []
        filter.limit = limit
        let rows: [StoredFinding]
        do { rows = try store.findings(filter) } catch {
            printError("jitaudit findings: \(error)")
            throw Exit.runtimeFailure
        }
        let out = OutputWriter(fd: 1)
        switch format ?? (OutputWriter.stdoutIsTerminal ? .text : .json) {
        case .json:
            for f in rows { out.writeLine(f.json) }
        case .text:
            for f in rows {
                let finding = Finding(id: f.id, rule: f.rule, severity: Severity(rawValue: f.severity) ?? .info, ts: f.ts, actor: f.actor,
                                      requestID: f.requestID, summary: f.summary, evidence: Evidence())
                out.writeLine(FindingFormat.text(finding))
            }
        case .csv:
            out.writeLine("id,rule,severity,ts,actor,request_id,summary,evidence")
            for f in rows {
                out.writeLine([f.id, f.rule, f.severity, f.ts.rfc3339, f.actor, f.requestID ?? "", f.summary, f.evidenceJSON]
                    .map(csvField).joined(separator: ","))
            }
        }
        out.flush()
    }
}

enum ListFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, csv
}
