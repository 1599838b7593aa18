/// The sections of the HTML report.
enum HTMLSections {
    typealias F = ReportFormat

    static func overview(_ r: ReportData, _ h: inout HTMLWriter) {
        let o = r.overview
        h.h2("Overview", id: "overview")
        func vs(_ c: ReportData.Compared) -> String { "\(F.delta(c.current, c.previous)) vs previous (\(c.previous))" }
        h.cards([
            ("\(o.eventsTotal.current)", "events", vs(o.eventsTotal)),
            ("\(o.requests.current)", "requests", vs(o.requests)),
            (F.percent(o.approvalRate), "approval rate", "previous " + F.percent(o.previousApprovalRate)),
            ("\(o.findingsTotal.current)", "findings", vs(o.findingsTotal)),
            (F.duration(r.bottlenecks.latency.overall.p50), "median approval latency", nil),
            ("\(r.bottlenecks.pending.count)", "pending at period end", nil),
        ])
    }

    /// The overview's tables: every figure against the previous period.
    static func comparison(_ r: ReportData, _ h: inout HTMLWriter) {
        let o = r.overview
        h.h2("This period and the previous one", id: "comparison")
        h.raw("<div class=\"pair\">")
        var rows = o.events.map { [$0.key, "\($0.current)", "\($0.previous)", F.delta($0.current, $0.previous)] }
        for c in [o.requests, o.decidedRequests, o.approvedRequests] {
            rows.append(["\(c.key) requests", "\(c.current)", "\(c.previous)", F.delta(c.current, c.previous)])
        }
        h.table(["events and requests", "this period", "previous period", "change"], rows, numeric: [1, 2, 3])
        var frows = o.findingsBySeverity.filter { $0.current + $0.previous > 0 }
            .map { ["severity " + $0.key, "\($0.current)", "\($0.previous)", F.delta($0.current, $0.previous)] }
        frows += o.findingsByRule.map { ["rule " + $0.key, "\($0.current)", "\($0.previous)", F.delta($0.current, $0.previous)] }
        h.table(["findings", "this period", "previous period", "change"], frows, numeric: [1, 2, 3], empty: "No findings in either period.")
        h.raw("</div>\n")
    }

    static func findings(_ r: ReportData, _ h: inout HTMLWriter) {
        let f = r.findings
        h.h2("Findings", id: "findings")
        let rules = f.byRule.map(\.rule)
        if rules.isEmpty {
            h.p("No findings in this period.", cls: "empty")
        } else {
            let unit = f.bucketDays == 1 ? "day" : "week"
            h.h3("By rule")
            h.table(["rule", "severity", "findings", "actors"], f.byRule.map { [$0.rule, $0.severity, "\($0.count)", "\($0.actors)"] }, numeric: [2, 3])
            h.h3("By actor")
            h.chartData(HTMLCharts.topActorsID, caption: "Actors with the most findings", header: ["actor", "findings", "by rule"],
                        rows: f.byActor.map { a in [a.actor, "\(a.total)", a.byRule.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")] },
                        numeric: [1])
            h.h3("Per \(unit)")
            h.chartData(HTMLCharts.perDayID, caption: "Findings per \(unit) by rule", header: [unit, "findings", "by rule"],
                        rows: f.perDay.map { d in
                            [d.day, "\(d.total)", rules.compactMap { r in d.byRule[r].map { "\(r) \($0)" } }.joined(separator: ", ")]
                        }, numeric: [1])
        }
        h.h3("Repeat offenders")
        if f.repeatOffenders.isEmpty { h.p("None in this period.", cls: "empty") }
        for o in f.repeatOffenders {
            h.p("\(o.actor): \(o.repeatFindings) repeat_offender finding(s), \(o.totalFindings) other finding(s) in the period")
            h.table(["time", "rule", "severity", "request", "summary"],
                    o.findings.map { [F.minute($0.ts), $0.rule, $0.severity, $0.requestID ?? "", $0.summary] })
        }
    }

    static func violations(_ r: ReportData, _ h: inout HTMLWriter) {
        let v = r.violations
        h.h2("Violations", id: "violations")
        let sections: [(String, String, [ReportData.Violation])] = [
            ("Requests executed without approval", "execute_without_approval", v.executedWithoutApproval),
            ("Self-approvals", "self_approval", v.selfApprovals),
            ("High-priority approvals without justification", "missing_justification", v.unjustifiedHighPriority),
        ]
        for (title, rule, list) in sections {
            let total = v.counts[rule] ?? list.count
            h.h3("\(title) (\(total))")
            if total > list.count { h.p("The first \(list.count) of \(total).") }
            h.table(["time", "request", "actor", "requester", "requested", "priority", "environment", "action", "summary"], list.map {
                [F.minute($0.ts), $0.requestID ?? "", $0.actor, $0.requester ?? "", $0.requestedAt.map(F.minute) ?? "", $0.priority ?? "",
                 $0.environment ?? "", [$0.action, $0.resource].compactMap { $0 }.joined(separator: " "), $0.summary]
            }, empty: "None in this period.")
        }
    }

    static func bottlenecks(_ r: ReportData, _ h: inout HTMLWriter) {
        let b = r.bottlenecks, l = b.latency
        h.h2("Bottlenecks", id: "bottlenecks")
        h.h3("Approval latency: request to first decision")
        h.chartData(HTMLCharts.latencyID, caption: "Decisions by latency", header: ["latency", "decisions"],
                    rows: l.histogram.map { [$0.label, "\($0.count)"] }, numeric: [1])
        let header = ["", "decisions", "p50", "p90", "p99", "max"]
        func rows(_ s: [ReportData.LatencyStats]) -> [[String]] {
            s.map { [$0.key, "\($0.decisions)", F.duration($0.p50), F.duration($0.p90), F.duration($0.p99), F.duration($0.max)] }
        }
        h.table(header, rows([l.overall] + l.byEnvironment.map { var e = $0; e.key = "environment " + e.key; return e }
                             + l.byPriority.map { var e = $0; e.key = "priority " + e.key; return e }),
                numeric: [1, 2, 3, 4, 5], caption: "Latency overall, by environment and by priority")
        h.table(["approver"] + header.dropFirst(), rows(l.byApprover), numeric: [1, 2, 3, 4, 5], caption: "Latency by approver (most decisions first)",
                empty: "No decisions in this period.")
        h.h3("Pending at the end of the period (\(b.pending.count))")
        h.chartData(HTMLCharts.pendingID, caption: "Pending requests by age", header: ["age", "requests"],
                    rows: b.pending.byAge.map { [$0.label, "\($0.count)"] }, numeric: [1])
        h.table(["request", "requester", "requested", "age", "priority", "environment"], b.pending.oldest.map {
            [$0.requestID, $0.requester, F.minute($0.requestedAt), F.duration($0.ageSeconds), $0.priority, $0.environment ?? ""]
        }, numeric: [3], caption: "Oldest pending requests", empty: "No request is pending.")
        h.h3("Stale requests by environment")
        h.p("An environment's approver group is the people who decide its requests; stale_request findings count requests left undecided too long.")
        h.table(["environment", "stale requests", "requests", "p50 latency", "usual approvers"], b.stale.map {
            [$0.environment, "\($0.staleRequests)", "\($0.requests)", F.duration($0.p50), $0.usualApprovers.joined(separator: ", ")]
        }, numeric: [1, 2, 3], empty: "No stale requests in this period.")
    }

    static func approverLoad(_ r: ReportData, _ h: inout HTMLWriter) {
        let a = r.approverLoad
        h.h2("Approver load (\(a.totalApprovals) approvals)", id: "approvers")
        h.table(["approver", "approvals", "share", "requesters"], a.approvers.map {
            [$0.approver, "\($0.approvals)", F.percent($0.share), "\($0.requesters)"]
        }, numeric: [1, 2, 3], empty: "No approvals in this period.")
        h.p("Requester–approver pairs. ⚠ marks self-approvals, two people who approve each other at least twice each, and pairs where one approver covers at least half of at least 3 approvals.")
        h.table(["", "requester", "approver", "approvals", "share of requester's", "reverse"], a.pairs.map {
            [$0.flagged ? "⚠" : "", $0.requester, $0.approver, "\($0.approvals)", F.percent($0.share), "\($0.reverse)"]
        }, numeric: [3, 4, 5], empty: "No approvals in this period.")
    }

    static func unknownSources(_ r: ReportData, _ h: inout HTMLWriter) {
        h.h2("Unknown sources", id: "unknown-sources")
        h.table(["actor", "findings", "new IP addresses", "new devices", "first", "last"], r.unknownSources.map {
            [$0.actor, "\($0.findings)", $0.newAddresses.joined(separator: ", "), $0.newDevices.joined(separator: ", "), F.minute($0.first), F.minute($0.last)]
        }, numeric: [1], empty: "No unknown_source findings in this period.")
    }

    static func quality(_ r: ReportData, _ h: inout HTMLWriter) {
        let q = r.dataQuality
        h.h2("Data quality", id: "data-quality")
        h.p("Rejected lines received in the period: \(q.rejectionsInPeriod) (\(q.rejectionsStored) stored in all).")
        h.table(["reason", "this period", "previous period"], q.rejectionsByKind.map { [$0.key, "\($0.current)", "\($0.previous)"] }, numeric: [1, 2])
        h.p("Late events: " + (q.lateEvents.map { "\($0)" } ?? q.lateEventsNote) + ".")
        h.p("Business hours (\(r.timezone)) without any event: \(q.silentBusinessHours) of \(q.businessHours).")
        // One row per day: the silent runs as hh:mm–hh:mm.
        var days: [(day: String, runs: [String], hours: Int)] = []
        for g in q.gaps {
            let day = String(g.start.prefix(10))
            let run = String(Array(g.start)[11..<16]) + "–" + String(Array(g.end)[11..<16])
            if days.last?.day == day { days[days.count - 1].runs.append(run); days[days.count - 1].hours += g.hours } else {
                days.append((day, [run], g.hours))
            }
        }
        h.table(["day", "silent business hours (UTC)", "hours"], days.map { [$0.day, $0.runs.joined(separator: ", "), "\($0.hours)"] },
                numeric: [2])
    }
}
