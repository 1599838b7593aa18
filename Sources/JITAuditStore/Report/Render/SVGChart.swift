/// Inline SVG bar charts for the HTML report: no script, no external file.
/// Every chart has a `<title>` and `<desc>` (referenced by `aria-labelledby`),
/// labelled axes, and the renderer puts a data table behind it.
struct SVGChart {
    struct Series {
        var name: String
        var colour: String
    }

    /// One bar: a label and one value per series (stacked).
    struct Bar {
        var label: String
        var values: [Int]
    }

    /// A vertical marker on a bar chart: at bar index `position` (fractional).
    struct Marker {
        var label: String
        var position: Double
        var colour: String
    }

    var id: String
    var title: String
    var description: String
    var xAxis: String
    var yAxis: String
    var series: [Series]
    var bars: [Bar]
    var markers: [Marker] = []

    static let palette = ["#b2182b", "#ef8a62", "#2166ac", "#67a9cf", "#1b7837", "#7fbf7b", "#762a83", "#c2a5cf", "#8c510a", "#5e5e5e"]

    /// Vertical bars, stacked when there are several series.
    func vertical(width: Int = 760, height: Int = 300) -> String {
        let left = 56.0, right = 16.0, top = 16.0, bottom = 70.0 + (series.count > 1 ? 22.0 * Double((series.count + 2) / 3) : 0)
        let h = Double(height) + bottom - 70
        let plotW = Double(width) - left - right, plotH = Double(height) - top - 70
        let maxValue = max(1, bars.map { $0.values.reduce(0, +) }.max() ?? 1)
        let (tickStep, top0) = Self.ticks(maxValue)
        var svg = open(width: width, height: Int(h))
        // Y grid and tick labels.
        var t = 0
        while t <= top0 {
            let y = top + plotH - plotH * Double(t) / Double(top0)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y))\" class=\"grid\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" class=\"tick\">\(t)</text>"
            t += tickStep
        }
        let slot = plotW / Double(max(1, bars.count))
        let barW = max(1, slot * 0.75)
        let labelEvery = max(1, Int((Double(bars.count) * 44 / plotW).rounded(.up)))
        for (i, b) in bars.enumerated() {
            var y = top + plotH
            let x = left + slot * Double(i) + (slot - barW) / 2
            for (k, v) in b.values.enumerated() where v > 0 {
                let bh = plotH * Double(v) / Double(top0)
                y -= bh
                svg += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(barW))\" height=\"\(f(bh))\" fill=\"\(series[k].colour)\">"
                svg += "<title>\(HTMLText.escape(b.label)): \(HTMLText.escape(series[k].name)) \(v)</title></rect>"
            }
            if i % labelEvery == 0 {
                let lx = left + slot * (Double(i) + 0.5), ly = top + plotH + 14
                svg += "<text x=\"\(f(lx))\" y=\"\(f(ly))\" text-anchor=\"middle\" class=\"tick\">\(HTMLText.escape(Self.short(b.label)))</text>"
            }
        }
        for (k, m) in markers.enumerated() {
            let x = left + slot * m.position
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" stroke=\"\(m.colour)\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>"
            svg += "<text x=\"\(f(x + 3))\" y=\"\(f(top + 12 + 13 * Double(k)))\" class=\"marker\" fill=\"\(m.colour)\">\(HTMLText.escape(m.label))</text>"
        }
        svg += axes(left: left, top: top, plotW: plotW, plotH: plotH, xLabelY: top + plotH + 34)
        if series.count > 1 { svg += legend(x: left, y: top + plotH + 50, width: plotW) }
        return svg + "</svg>"
    }

    /// Horizontal bars (one series), for ranked lists such as top actors.
    func horizontal(width: Int = 760) -> String {
        let left = 170.0, right = 40.0, top = 10.0, row = 24.0
        let plotW = Double(width) - left - right, plotH = row * Double(max(1, bars.count))
        let height = Int(top + plotH + 44)
        let maxValue = max(1, bars.map { $0.values.first ?? 0 }.max() ?? 1)
        let (tickStep, top0) = Self.ticks(maxValue)
        var svg = open(width: width, height: height)
        var t = 0
        while t <= top0 {
            let x = left + plotW * Double(t) / Double(top0)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" class=\"grid\"/>"
            svg += "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 14))\" text-anchor=\"middle\" class=\"tick\">\(t)</text>"
            t += tickStep
        }
        for (i, b) in bars.enumerated() {
            let v = b.values.first ?? 0
            let y = top + row * Double(i)
            let w = plotW * Double(v) / Double(top0)
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + row * 0.65))\" text-anchor=\"end\" class=\"tick\">\(HTMLText.escape(Self.short(b.label, 24)))</text>"
            svg += "<rect x=\"\(f(left))\" y=\"\(f(y + 3))\" width=\"\(f(w))\" height=\"\(f(row - 6))\" fill=\"\(series.first?.colour ?? "#2166ac")\">"
            svg += "<title>\(HTMLText.escape(b.label)): \(v)</title></rect>"
            svg += "<text x=\"\(f(left + w + 4))\" y=\"\(f(y + row * 0.65))\" class=\"tick\">\(v)</text>"
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" class=\"axis\"/>"
        svg += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 34))\" text-anchor=\"middle\" class=\"label\">\(HTMLText.escape(xAxis))</text>"
        svg += "<text x=\"12\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" class=\"label\" transform=\"rotate(-90 12 \(f(top + plotH / 2)))\">\(HTMLText.escape(yAxis))</text>"
        return svg + "</svg>"
    }

    private func open(width: Int, height: Int) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" "
            + "aria-labelledby=\"\(id)-title \(id)-desc\"><title id=\"\(id)-title\">\(HTMLText.escape(title))</title>"
            + "<desc id=\"\(id)-desc\">\(HTMLText.escape(description))</desc>"
    }

    private func axes(left: Double, top: Double, plotW: Double, plotH: Double, xLabelY: Double) -> String {
        var s = "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" class=\"axis\"/>"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" class=\"axis\"/>"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(xLabelY))\" text-anchor=\"middle\" class=\"label\">\(HTMLText.escape(xAxis))</text>"
        let cy = top + plotH / 2
        s += "<text x=\"14\" y=\"\(f(cy))\" text-anchor=\"middle\" class=\"label\" transform=\"rotate(-90 14 \(f(cy)))\">\(HTMLText.escape(yAxis))</text>"
        return s
    }

    private func legend(x: Double, y: Double, width: Double) -> String {
        var s = ""
        let col = width / 3
        for (i, sr) in series.enumerated() {
            let lx = x + col * Double(i % 3), ly = y + 22 * Double(i / 3)
            s += "<rect x=\"\(f(lx))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" fill=\"\(sr.colour)\"/>"
            s += "<text x=\"\(f(lx + 16))\" y=\"\(f(ly))\" class=\"tick\">\(HTMLText.escape(Self.short(sr.name, 32)))</text>"
        }
        return s
    }

    /// A round tick step and the axis top for values up to `maxValue`.
    static func ticks(_ maxValue: Int) -> (step: Int, top: Int) {
        var step = 1
        while maxValue / step > 5 {
            if maxValue / (step * 2) <= 5 { step *= 2; break }
            if maxValue / (step * 5) <= 5 { step *= 5; break }
            step *= 10
        }
        return (step, ((maxValue + step - 1) / step) * step)
    }

    static func short(_ s: String, _ n: Int = 12) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }

    private func f(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}
