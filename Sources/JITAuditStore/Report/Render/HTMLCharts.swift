/// The four charts of the HTML report, shown together under "At a glance";
/// each links to the table of its data in the section it belongs to.
enum HTMLCharts {
    typealias F = ReportFormat
    static let perDayID = "findings-per-day", latencyID = "latency", topActorsID = "top-actors", pendingID = "pending"

    static func glance(_ r: ReportData, _ h: inout HTMLWriter) {
        h.h2("At a glance", id: "glance")
        h.raw("<div class=\"glance\">")
        findingsPerDay(r, &h)
        latency(r, &h)
        topActors(r, &h)
        pending(r, &h)
        h.raw("</div>\n")
    }

    static func ruleSeries(_ rules: [String]) -> [SVGChart.Series] {
        rules.enumerated().map { .init(name: $1, colour: SVGChart.palette[$0 % SVGChart.palette.count]) }
    }

    static func findingsPerDay(_ r: ReportData, _ h: inout HTMLWriter) {
        let f = r.findings, rules = f.byRule.map(\.rule)
        let unit = f.bucketDays == 1 ? "day" : "week"
        let total = f.perDay.reduce(0) { $0 + $1.total }
        let chart = SVGChart(id: perDayID, title: "Findings per \(unit), stacked by rule",
                             description: "Bar chart of \(total) findings over \(f.perDay.count) \(unit)s; each bar is split by rule.",
                             xAxis: f.bucketDays == 1 ? "day (UTC)" : "week starting (UTC)", yAxis: "findings", series: ruleSeries(rules),
                             bars: f.perDay.map { d in .init(label: String(d.day.dropFirst(5)), values: rules.map { d.byRule[$0] ?? 0 }) })
        h.chart(chart.vertical(width: 560, height: 280), id: perDayID, caption: "Findings per \(unit) by rule",
                empty: total == 0 ? "No findings in this period." : nil)
    }

    static func latency(_ r: ReportData, _ h: inout HTMLWriter) {
        let l = r.bottlenecks.latency
        let markers = [("p50", l.overall.p50, "#1b7837"), ("p90", l.overall.p90, "#d95f02"), ("p99", l.overall.p99, "#b2182b")]
            .compactMap { name, v, c in v.map { SVGChart.Marker(label: "\(name) \(F.duration($0))", position: position(of: $0, in: l.histogram), colour: c) } }
        let chart = SVGChart(id: latencyID, title: "Approval latency histogram",
                             description: "\(l.overall.decisions) decisions by time from request to first decision; p50 \(F.duration(l.overall.p50)), "
                                 + "p90 \(F.duration(l.overall.p90)), p99 \(F.duration(l.overall.p99)) marked.",
                             xAxis: "time from request to first decision", yAxis: "decisions", series: [.init(name: "decisions", colour: "#2166ac")],
                             bars: l.histogram.map { .init(label: $0.label, values: [$0.count]) }, markers: markers)
        h.chart(chart.vertical(width: 560, height: 280), id: latencyID, caption: "Approval latency (p50, p90, p99 marked)",
                empty: l.overall.decisions == 0 ? "No decisions in this period." : nil)
    }

    /// Where `seconds` falls on the histogram's bar axis (bar index plus fraction).
    static func position(of seconds: Int, in buckets: [ReportData.Bucket]) -> Double {
        for (i, b) in buckets.enumerated() where seconds >= b.from && (b.to == nil || seconds < b.to!) {
            guard let to = b.to else { return Double(i) + 0.5 }
            return Double(i) + Double(seconds - b.from) / Double(to - b.from)
        }
        return 0
    }

    static func topActors(_ r: ReportData, _ h: inout HTMLWriter) {
        let top = Array(r.findings.byActor.prefix(10))
        let chart = SVGChart(id: topActorsID, title: "Actors with the most findings",
                             description: "Horizontal bar chart of the \(top.count) actors with the most findings in the period.",
                             xAxis: "findings", yAxis: "actor", series: [.init(name: "findings", colour: "#b2182b")],
                             bars: top.map { .init(label: $0.actor, values: [$0.total]) })
        h.chart(chart.horizontal(width: 560), id: topActorsID, caption: "Top actors by findings",
                empty: top.isEmpty ? "No findings in this period." : nil)
    }

    static func pending(_ r: ReportData, _ h: inout HTMLWriter) {
        let p = r.bottlenecks.pending
        let chart = SVGChart(id: pendingID, title: "Pending requests by age",
                             description: "\(p.count) requests without a decision at the end of the period, by age.",
                             xAxis: "age at the end of the period", yAxis: "requests", series: [.init(name: "requests", colour: "#ef8a62")],
                             bars: p.byAge.map { .init(label: $0.label, values: [$0.count]) })
        h.chart(chart.vertical(width: 560, height: 280), id: pendingID, caption: "Pending requests by age (\(p.count))",
                empty: p.count == 0 ? "No request is pending at the end of the period." : nil)
    }
}
