import ArgumentParser
import Foundation
import JITAuditCore
import JITAuditDaemon
import JITAuditStore

/// `jitaudit report`: the periodic review of a store, as Markdown, JSON or HTML.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Review report over a period: findings by rule and actor, violations, approval latency, pending requests, approver load, data quality.",
        discussion: "Markdown on stdout by default; --format html writes one self-contained file with charts. See docs/report.md."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Start of the period: a span back from --until (7d, 24h), an RFC 3339 time, or a date YYYY-MM-DD (UTC midnight).",
                               valueName: "TIME"))
    var since: TimeBound = TimeBound(argument: "7d")!

    @Option(help: ArgumentHelp("End of the period (exclusive): \(TimeBound.help). Default: now.", valueName: "TIME"))
    var until: TimeBound?

    @Option(help: "Output format: md, json or html.")
    var format: ReportFormatOption = .md

    @Option(name: [.short, .long], help: ArgumentHelp("Write the report to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration file whose timezone, holidays and business_hours define the gaps' business hours.",
                                                           valueName: "FILE"))
    var configPath: String?

    func run() throws {
        let config: EngineConfig
        switch RuleSources.config(configPath) {
        case .success(let c): config = c
        case .failure(let e): printError(e.description); throw Exit.usage
        }
        guard let calendar = config.businessCalendar() else {
            printError("jitaudit report: unknown time zone \(config.timezone)"); throw Exit.usage
        }
        let now = WallClock.now()
        let end = until?.resolve(now: now) ?? now
        let start: Timestamp
        switch since.value {
        case .ago(let span): start = end - span
        case .at(let t): start = t
        }
        guard start < end else {
            printError("jitaudit report: the period is empty: --since (\(start.rfc3339)) must be before --until (\(end.rfc3339))")
            throw Exit.usage
        }
        let store = try database.open(.read, command: "report")
        let data: ReportData
        do { data = try store.report(ReportRequest(since: start, until: end, calendar: calendar)) } catch {
            printError("jitaudit report: \(error)")
            throw Exit.runtimeFailure
        }
        let text: String
        switch format {
        case .md: text = MarkdownReport.render(data)
        case .json: text = data.jsonText()
        case .html: text = HTMLReport.render(data)
        }
        if let output {
            do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                printError("jitaudit report: cannot write \(output): \(error.localizedDescription)")
                throw Exit.runtimeFailure
            }
        } else {
            let out = OutputWriter(fd: 1)
            out.write(text)
            out.flush()
        }
    }
}

enum ReportFormatOption: String, ExpressibleByArgument, CaseIterable {
    case md, json, html
}
