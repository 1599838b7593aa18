import Foundation

/// The report as Markdown: headings and pipe tables, readable as plain text.
/// Event text is escaped: `|`, `<`, `>`, `&`, `` ` ``, `*`, `_`, `[`, `]` and
/// control characters cannot change the table or inject markup.
package enum MarkdownReport {
    package static func render(_ r: ReportData) -> String {
        var md = MarkdownWriter()
        md.line("# JIT approval audit report")
        md.line("")
        md.line("Period: **\(ReportFormat.minute(r.period.since))** to **\(ReportFormat.minute(r.period.until))** "
                + "(compared with \(ReportFormat.minute(r.previousPeriod.since)) to \(ReportFormat.minute(r.previousPeriod.until))). "
                + "Business hours in \(md.cell(r.timezone)).")
        overview(r, &md)
        findings(r, &md)
        violations(r, &md)
        bottlenecks(r, &md)
        approverLoad(r, &md)
        unknownSources(r, &md)
        quality(r, &md)
        return md.text
    }

    static func overview(_ r: ReportData, _ md: inout MarkdownWriter) {
        let o = r.overview
        md.heading("Overview")
        var rows = o.events.map { [$0.key, "\($0.current)", "\($0.previous)", ReportFormat.delta($0.current, $0.previous)] }
        rows.append(["**all events**", "\(o.eventsTotal.current)", "\(o.eventsTotal.previous)", ReportFormat.delta(o.eventsTotal.current, o.eventsTotal.previous)])
        for c in [o.requests, o.decidedRequests, o.approvedRequests] {
            rows.append(["\(c.key) requests", "\(c.current)", "\(c.previous)", ReportFormat.delta(c.current, c.previous)])
        }
        rows.append(["approval rate", ReportFormat.percent(o.approvalRate), ReportFormat.percent(o.previousApprovalRate), ""])
        rows.append(["**findings**", "\(o.findingsTotal.current)", "\(o.findingsTotal.previous)", ReportFormat.delta(o.findingsTotal.current, o.findingsTotal.previous)])
        for c in o.findingsBySeverity where c.current + c.previous > 0 {
            rows.append(["severity \(c.key)", "\(c.current)", "\(c.previous)", ReportFormat.delta(c.current, c.previous)])
        }
        for c in o.findingsByRule { rows.append(["rule `\(md.code(c.key))`", "\(c.current)", "\(c.previous)", ReportFormat.delta(c.current, c.previous)]) }
        md.table(["", "this period", "previous period", "change"], rows, escape: false)
    }

    static func findings(_ r: ReportData, _ md: inout MarkdownWriter) {
        let f = r.findings
        md.heading("Findings by rule")
        md.table(["rule", "severity", "findings", "actors"], f.byRule.map { [$0.rule, $0.severity, "\($0.count)", "\($0.actors)"] }, empty: "No findings in this period.")
        md.heading("Findings by actor")
        md.table(["actor", "findings", "rules"], f.byActor.map { a in
            [a.actor, "\(a.total)", a.byRule.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")]
        }, empty: "No findings in this period.")
        md.heading("Repeat offenders")
        if f.repeatOffenders.isEmpty { md.line("None in this period."); md.line("") }
        for o in f.repeatOffenders {
            md.line("**\(md.cell(o.actor))**: \(o.repeatFindings) repeat_offender finding(s), \(o.totalFindings) other finding(s)")
            md.line("")
            md.table(["time", "rule", "request", "summary"], o.findings.map { [ReportFormat.minute($0.ts), $0.rule, $0.requestID ?? "", $0.summary] })
        }
    }

    static func violations(_ r: ReportData, _ md: inout MarkdownWriter) {
        let v = r.violations
        let sections: [(String, String, [ReportData.Violation])] = [
            ("Requests executed without approval", "execute_without_approval", v.executedWithoutApproval),
            ("Self-approvals", "self_approval", v.selfApprovals),
            ("High-priority approvals without justification", "missing_justification", v.unjustifiedHighPriority),
        ]
        for (title, rule, list) in sections {
            let total = v.counts[rule] ?? list.count
            md.heading(title + " (\(total))")
            if total > list.count { md.line("The first \(list.count) of \(total):"); md.line("") }
            md.table(["time", "request", "actor", "requester", "requested", "priority", "environment", "action", "summary"], list.map {
                [ReportFormat.minute($0.ts), $0.requestID ?? "", $0.actor, $0.requester ?? "", $0.requestedAt.map(ReportFormat.minute) ?? "",
                 $0.priority ?? "", $0.environment ?? "", [$0.action, $0.resource].compactMap { $0 }.joined(separator: " "), $0.summary]
            }, empty: "None in this period.")
        }
    }

    static func bottlenecks(_ r: ReportData, _ md: inout MarkdownWriter) {
        let b = r.bottlenecks
        md.heading("Approval latency (request to first decision)")
        func stats(_ l: [ReportData.LatencyStats]) -> [[String]] {
            l.map { [$0.key, "\($0.decisions)", ReportFormat.duration($0.p50), ReportFormat.duration($0.p90), ReportFormat.duration($0.p99), ReportFormat.duration($0.max)] }
        }
        let header = ["", "decisions", "p50", "p90", "p99", "max"]
        md.table(header, stats([b.latency.overall]))
        md.line("By environment:"); md.line("")
        md.table(header, stats(b.latency.byEnvironment), empty: "No decisions in this period.")
        md.line("By priority:"); md.line("")
        md.table(header, stats(b.latency.byPriority), empty: "No decisions in this period.")
        md.line("By approver (most decisions first):"); md.line("")
        md.table(header, stats(b.latency.byApprover), empty: "No decisions in this period.")
        md.table(["latency", "decisions"], b.latency.histogram.map { [$0.label, "\($0.count)"] })
        md.heading("Pending at the end of the period (\(b.pending.count))")
        md.table(["age", "requests"], b.pending.byAge.map { [$0.label, "\($0.count)"] })
        md.table(["request", "requester", "requested", "age", "priority", "environment"], b.pending.oldest.map {
            [$0.requestID, $0.requester, ReportFormat.minute($0.requestedAt), ReportFormat.duration($0.ageSeconds), $0.priority, $0.environment ?? ""]
        }, empty: "No request is pending.")
        md.heading("Stale requests by environment")
        md.line("An environment's approver group is the people who decide its requests; `stale_request` findings count the requests left undecided too long.")
        md.line("")
        md.table(["environment", "stale requests", "requests", "p50 latency", "usual approvers"], b.stale.map {
            [$0.environment, "\($0.staleRequests)", "\($0.requests)", ReportFormat.duration($0.p50), $0.usualApprovers.joined(separator: ", ")]
        }, empty: "No stale requests in this period.")
    }

    static func approverLoad(_ r: ReportData, _ md: inout MarkdownWriter) {
        let a = r.approverLoad
        md.heading("Approver load (\(a.totalApprovals) approvals)")
        md.table(["approver", "approvals", "share", "requesters"], a.approvers.map {
            [$0.approver, "\($0.approvals)", ReportFormat.percent($0.share), "\($0.requesters)"]
        }, empty: "No approvals in this period.")
        md.line("Requester–approver pairs (⚠: a self-approval, two people who approve each other at least twice each, or one approver covering at least half of at least 3 approvals):")
        md.line("")
        md.table(["", "requester", "approver", "approvals", "share of requester's", "reverse"], a.pairs.map {
            [$0.flagged ? "⚠" : "", $0.requester, $0.approver, "\($0.approvals)", ReportFormat.percent($0.share), "\($0.reverse)"]
        }, empty: "No approvals in this period.")
    }

    static func unknownSources(_ r: ReportData, _ md: inout MarkdownWriter) {
        md.heading("Unknown sources")
        md.table(["actor", "findings", "new IP addresses", "new devices", "first", "last"], r.unknownSources.map {
            [$0.actor, "\($0.findings)", $0.newAddresses.joined(separator: ", "), $0.newDevices.joined(separator: ", "),
             ReportFormat.minute($0.first), ReportFormat.minute($0.last)]
        }, empty: "No unknown_source findings in this period.")
    }

    static func quality(_ r: ReportData, _ md: inout MarkdownWriter) {
        let q = r.dataQuality
        md.heading("Data quality")
        md.line("Rejected lines received in the period: \(q.rejectionsInPeriod) (\(q.rejectionsStored) stored in all).")
        md.line("")
        md.table(["reason", "this period", "previous period"], q.rejectionsByKind.map { [$0.key, "\($0.current)", "\($0.previous)"] }, empty: "")
        md.line("Late events: " + (q.lateEvents.map { "\($0)" } ?? md.cell(q.lateEventsNote)) + ".")
        md.line("")
        md.line("Business hours without any event: \(q.silentBusinessHours) of \(q.businessHours).")
        md.line("")
        md.table(["from", "to", "hours"], q.gaps.map { [ReportFormat.minute($0.start), ReportFormat.minute($0.end), "\($0.hours)"] }, empty: "")
    }
}

/// Accumulates Markdown text.
struct MarkdownWriter {
    var text = ""

    mutating func line(_ s: String) { text += s; text += "\n" }

    mutating func heading(_ s: String) { line("## " + s); line("") }

    /// A table; `empty` (if not nil) is printed instead of a table without rows.
    mutating func table(_ header: [String], _ rows: [[String]], escape: Bool = true, empty: String? = nil) {
        if rows.isEmpty, let empty {
            if !empty.isEmpty { line(empty); line("") }
            return
        }
        line("| " + header.map { cell($0) }.joined(separator: " | ") + " |")
        line("|" + header.map { _ in "---" }.joined(separator: "|") + "|")
        for r in rows { line("| " + r.map { escape ? cell($0) : $0 }.joined(separator: " | ") + " |") }
        line("")
    }

    /// Text safe inside a table cell or a line of Markdown.
    func cell(_ s: String) -> String {
        var out = ""
        for c in ReportFormat.visible(s) {
            switch c {
            case "|": out += "\\|"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "`", "*", "_", "[", "]", "\\", "#": out += "\\" + String(c)
            default: out.append(c)
            }
        }
        return out
    }

    /// Text inside a code span: only what could end it or the cell is replaced.
    func code(_ s: String) -> String {
        ReportFormat.visible(s).replacingOccurrences(of: "`", with: "'").replacingOccurrences(of: "|", with: "\\|")
    }
}
