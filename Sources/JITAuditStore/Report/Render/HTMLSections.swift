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
        var rows = o.events.map { [$0.key, "\($0.current)", "\($0.previous)", F.delta($0.current, $0.previous)] }
        for c in [o.requests, o.decidedRequests, o.approvedRequests] {
            rows.append(["\(c.key) requests", "\(c.current)", "\(c.previous)", F.delta(c.current, c.previous)])
        }
        h.table(["events and requests", "this period", "previous period", "change"], rows, numeric: [1, 2, 3])
        var frows = o.findingsBySeverity.filter { $0.current + $0.previous > 0 }
            .map { ["severity " + $0.key, "\($0.current)", "\($0.previous)", F.delta($0.current, $0.previous)] }
        frows += o.findingsByRule.map { ["rule " + $0.key, "\($0.current)", "\($0.previous)", F.delta($0.current, $0.previous)] }
        h.table(["findings", "this period", "previous period", "change"], frows, numeric: [1, 2, 3], empty: "No findings in either period.")
    }

    static func ruleSeries(_ rules: [String]) -> [SVGChart.Series] {
        rules.enumerated().map { .init(name: $1, colour: SVGChart.palette[$0 % SVGChart.palette.count]) }
    }

    static func findings(_ r: ReportData, _ h: inout HTMLWriter) {
        let f = r.findings
        h.h2("Findings", id: "findings")
        let rules = f.byRule.map(\.rule)
        if rules.isEmpty {
            h.p("No findings in this period.", cls: "empty")
        } else {
            let unit = f.bucketDays == 1 ? "day" : "week"
            let chart = SVGChart(id: "findings-per-day", title: "Findings per \(unit), stacked by rule",
                                 description: "Bar chart of \(f.perDay.reduce(0) { $0 + $1.total }) findings over \(f.perDay.count) \(unit)s; each bar is split by rule.",
                                 xAxis: f.bucketDays == 1 ? "day (UTC)" : "week starting (UTC)", yAxis: "findings",
                                 series: ruleSeries(rules), bars: f.perDay.map { d in .init(label: String(d.day.dropFirst(5)), values: rules.map { d.byRule[$0] ?? 0 }) })
            h.figure(chart.vertical(), caption: "Findings per \(unit) by rule", header: [unit, "findings", "by rule"],
                     rows: f.perDay.map { d in
                         [d.day, "\(d.total)", rules.compactMap { r in d.byRule[r].map { "\(r) \($0)" } }.joined(separator: ", ")]
                     }, numeric: [1])
            h.h3("By rule")
            h.table(["rule", "severity", "findings", "actors"], f.byRule.map { [$0.rule, $0.severity, "\($0.count)", "\($0.actors)"] }, numeric: [2, 3])
            let top = Array(f.byActor.prefix(10))
            let actors = SVGChart(id: "top-actors", title: "Actors with the most findings",
                                  description: "Horizontal bar chart of the \(top.count) actors with the most findings in the period.",
                                  xAxis: "findings", yAxis: "actor", series: [.init(name: "findings", colour: "#b2182b")],
                                  bars: top.map { .init(label: $0.actor, values: [$0.total]) })
            h.figure(actors.horizontal(), caption: "Top actors by findings", header: ["actor", "findings", "by rule"],
                     rows: f.byActor.map { a in [a.actor, "\(a.total)", a.byRule.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")] },
                     numeric: [1])
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
        if l.overall.decisions > 0 {
            let markers = [("p50", l.overall.p50, "#1b7837"), ("p90", l.overall.p90, "#ef8a62"), ("p99", l.overall.p99, "#b2182b")]
                .compactMap { name, v, c in v.map { SVGChart.Marker(label: "\(name) \(F.duration($0))", position: position(of: $0, in: l.histogram), colour: c) } }
            let chart = SVGChart(id: "latency", title: "Approval latency histogram",
                                 description: "\(l.overall.decisions) decisions by time from request to first decision; p50 \(F.duration(l.overall.p50)), p90 \(F.duration(l.overall.p90)), p99 \(F.duration(l.overall.p99)) marked.",
                                 xAxis: "time to first decision", yAxis: "decisions", series: [.init(name: "decisions", colour: "#2166ac")],
                                 bars: l.histogram.map { .init(label: $0.label, values: [$0.count]) }, markers: markers)
            h.figure(chart.vertical(), caption: "Approval latency (p50, p90, p99 marked)", header: ["latency", "decisions"],
                     rows: l.histogram.map { [$0.label, "\($0.count)"] }, numeric: [1])
        }
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
        if b.pending.count > 0 {
            let chart = SVGChart(id: "pending", title: "Pending requests by age",
                                 description: "\(b.pending.count) requests without a decision at the end of the period, by age.",
                                 xAxis: "age at the end of the period", yAxis: "requests", series: [.init(name: "requests", colour: "#ef8a62")],
                                 bars: b.pending.byAge.map { .init(label: $0.label, values: [$0.count]) })
            h.figure(chart.vertical(height: 260), caption: "Pending requests by age", header: ["age", "requests"],
                     rows: b.pending.byAge.map { [$0.label, "\($0.count)"] }, numeric: [1])
        }
        h.table(["request", "requester", "requested", "age", "priority", "environment"], b.pending.oldest.map {
            [$0.requestID, $0.requester, F.minute($0.requestedAt), F.duration($0.ageSeconds), $0.priority, $0.environment ?? ""]
        }, numeric: [3], caption: "Oldest pending requests", empty: "No request is pending.")
        h.h3("Stale requests by environment")
        h.p("An environment's approver group is the people who decide its requests; stale_request findings count requests left undecided too long.")
        h.table(["environment", "stale requests", "requests", "p50 latency", "usual approvers"], b.stale.map {
            [$0.environment, "\($0.staleRequests)", "\($0.requests)", F.duration($0.p50), $0.usualApprovers.joined(separator: ", ")]
        }, numeric: [1, 2, 3], empty: "No stale requests in this period.")
    }

    /// Where `seconds` falls on the histogram's bar axis (bar index plus fraction).
    static func position(of seconds: Int, in buckets: [ReportData.Bucket]) -> Double {
        for (i, b) in buckets.enumerated() where seconds >= b.from && (b.to == nil || seconds < b.to!) {
            guard let to = b.to else { return Double(i) + 0.5 }
            return Double(i) + Double(seconds - b.from) / Double(to - b.from)
        }
        return 0
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
        h.table(["from", "to", "hours"], q.gaps.map { [F.minute($0.start), F.minute($0.end), "\($0.hours)"] }, numeric: [2])
    }
}
