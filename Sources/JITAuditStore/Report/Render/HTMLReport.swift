/// The report as one self-contained HTML file (well-formed XHTML syntax):
/// inline CSS and SVG, no script, no external request. Charts have titles,
/// descriptions, axis labels and a data table each. All event text is escaped.
package enum HTMLReport {
    package static func render(_ r: ReportData) -> String {
        var h = HTMLWriter()
        h.raw("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>")
        h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>")
        h.raw("<title>JIT approval audit report, \(HTMLText.escape(ReportFormat.minute(r.period.since))) to \(HTMLText.escape(ReportFormat.minute(r.period.until)))</title>")
        h.raw("<style>\(css)</style></head><body><main>\n")
        h.raw("<h1>JIT approval audit report</h1>")
        h.p("Period: \(ReportFormat.minute(r.period.since)) to \(ReportFormat.minute(r.period.until)), compared with "
            + "\(ReportFormat.minute(r.previousPeriod.since)) to \(ReportFormat.minute(r.previousPeriod.until)). Business hours in \(r.timezone).")
        HTMLSections.overview(r, &h)
        HTMLCharts.glance(r, &h)
        HTMLSections.comparison(r, &h)
        HTMLSections.findings(r, &h)
        HTMLSections.violations(r, &h)
        HTMLSections.bottlenecks(r, &h)
        HTMLSections.approverLoad(r, &h)
        HTMLSections.unknownSources(r, &h)
        HTMLSections.quality(r, &h)
        h.raw("</main></body></html>\n")
        return h.text
    }

    static let css = """
    :root{color-scheme:light;font-family:"DejaVu Sans",system-ui,sans-serif;color:#1a1a1a;background:#fff}
    body{margin:0}main{max-width:1100px;margin:0 auto;padding:24px}
    h1{font-size:1.6em;margin:0 0 .3em}h2{font-size:1.25em;border-bottom:2px solid #2166ac;padding-bottom:.2em;margin-top:1.8em}
    h3{font-size:1.05em;margin:1.2em 0 .4em}
    table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
    th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
    th{background:#eef3f8}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
    .cards{display:flex;flex-wrap:wrap;gap:12px;margin:1em 0}
    .card{border:1px solid #ccc;border-radius:6px;padding:10px 14px;flex:1 1 120px}
    .card b{display:block;font-size:1.6em}.card span{color:#555;font-size:.85em}
    .up{color:#b2182b}.down{color:#1b7837}.flag{color:#b2182b;font-weight:bold}
    .pair{display:flex;flex-wrap:wrap;gap:0 24px;align-items:flex-start}
    .glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px 24px}
    figure{margin:0 0 .5em;break-inside:avoid}figcaption{font-weight:bold;margin-bottom:.3em}p.data{margin:.2em 0}
    svg{max-width:100%;height:auto;font-family:inherit}
    svg .grid{stroke:#e3e3e3}svg .axis{stroke:#333}svg .tick{font-size:11px;fill:#333}
    svg .label{font-size:12px;fill:#111}svg .marker{font-size:11px;font-weight:bold}
    .data{font-size:.8em;color:#333}.empty{color:#555;font-style:italic}
    .wrap{overflow-wrap:break-word}td{max-width:32em}td:first-child{white-space:nowrap}
    caption{text-align:left;font-size:.9em;color:#444;padding:2px 0}
    @media print{main{max-width:none;padding:0}h2{break-after:avoid}table,figure,.card{break-inside:avoid}
    th{background:none}a{color:inherit;text-decoration:none}}
    """
}

/// Escapes text for XHTML content and attribute values, making control
/// characters visible (they are not allowed in XML at all).
package enum HTMLText {
    package static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in ReportFormat.visible(s).unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

/// Accumulates HTML; every text goes through ``HTMLText/escape(_:)``.
struct HTMLWriter {
    var text = ""
    var chartCount = 0

    mutating func raw(_ s: String) { text += s }
    mutating func p(_ s: String, cls: String? = nil) { text += "<p\(cls.map { " class=\"\($0)\"" } ?? "")>\(HTMLText.escape(s))</p>\n" }
    mutating func h2(_ s: String, id: String) { text += "<h2 id=\"\(id)\">\(HTMLText.escape(s))</h2>\n" }
    mutating func h3(_ s: String) { text += "<h3>\(HTMLText.escape(s))</h3>\n" }

    /// A table; columns listed in `numeric` are right-aligned. Cells are text;
    /// a cell starting with U+26A0 (⚠) is highlighted.
    mutating func table(_ header: [String], _ rows: [[String]], numeric: Set<Int> = [], caption: String? = nil,
                        cls: String? = nil, empty: String? = nil) {
        if rows.isEmpty {
            if let empty { p(empty, cls: "empty") }
            return
        }
        text += "<table\(cls.map { " class=\"\($0)\"" } ?? "")>"
        if let caption { text += "<caption>\(HTMLText.escape(caption))</caption>" }
        text += "<thead><tr>"
        for (i, c) in header.enumerated() { text += "<th scope=\"col\"\(numeric.contains(i) ? " class=\"n\"" : "")>\(HTMLText.escape(c))</th>" }
        text += "</tr></thead><tbody>"
        for r in rows {
            text += "<tr>"
            for (i, c) in r.enumerated() {
                let cls = numeric.contains(i) ? "n" : c.hasPrefix("⚠") ? "flag" : "wrap"
                text += "<td class=\"\(cls)\">\(HTMLText.escape(c))</td>"
            }
            text += "</tr>"
        }
        text += "</tbody></table>\n"
    }

    /// A chart, linked to the table of its data (``chartData``); `empty` replaces a chart without data.
    mutating func chart(_ svg: String, id: String, caption: String, empty: String?) {
        text += "<figure><figcaption>\(HTMLText.escape(caption))</figcaption>"
        if let empty {
            // No chart, no data table to link to.
            text += "<p class=\"empty\">\(HTMLText.escape(empty))</p></figure>\n"
            return
        }
        text += svg
        text += "<p class=\"data\"><a href=\"#\(id)-data\">Data table</a></p></figure>\n"
    }

    /// The table behind a chart, where the chart's link points.
    mutating func chartData(_ id: String, caption: String, header: [String], rows: [[String]], numeric: Set<Int>) {
        text += "<div id=\"\(id)-data\">"
        table(header, rows, numeric: numeric, caption: caption + " (data of the chart)", cls: "data")
        if rows.isEmpty { p("No data.", cls: "empty") }
        text += "</div>\n"
    }

    mutating func cards(_ items: [(String, String, String?)]) {
        text += "<div class=\"cards\">"
        for (value, label, change) in items {
            text += "<div class=\"card\"><b>\(HTMLText.escape(value))</b><span>\(HTMLText.escape(label))</span>"
            if let change { text += "<br/><span>\(HTMLText.escape(change))</span>" }
            text += "</div>"
        }
        text += "</div>\n"
    }
}
