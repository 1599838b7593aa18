/// Number, duration and text helpers shared by the report renderers.
enum ReportFormat {
    /// `45s`, `12m 05s`, `3h 07m`, `2d 04h`.
    static func duration(_ seconds: Int?) -> String {
        guard let s = seconds else { return "–" }
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(pad2(s % 60))s" }
        if s < 86_400 { return "\(s / 3600)h \(pad2(s % 3600 / 60))m" }
        return "\(s / 86_400)d \(pad2(s % 86_400 / 3600))h"
    }

    static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// `87.5 %`; `–` for nil.
    static func percent(_ v: Double?) -> String {
        guard let v else { return "–" }
        let tenths = Int((v * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10) %"
    }

    /// Change from `previous` to `current`: `+3`, `−2`, `±0`.
    static func delta(_ current: Int, _ previous: Int) -> String {
        let d = current - previous
        return d > 0 ? "+\(d)" : d < 0 ? "−\(-d)" : "±0"
    }

    /// `2026-03-02 14:07 UTC` from an RFC 3339 UTC string.
    static func minute(_ rfc3339: String) -> String {
        guard rfc3339.count >= 16 else { return rfc3339 }
        let chars = Array(rfc3339)
        return String(chars[0..<10]) + " " + String(chars[11..<16]) + " UTC"
    }

    /// Text with control characters made visible (`\u{1b}` becomes `\u001B`),
    /// so attacker-controlled event text can neither break a line nor a table.
    static func visible(_ s: String) -> String {
        var needs = false
        for u in s.unicodeScalars where isInvisible(u) { needs = true; break }
        guard needs else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if isInvisible(u) {
                let hex = String(u.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    /// C0/C1 controls, DEL, and the code points XML 1.0 forbids.
    static func isInvisible(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        return v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0xFFFE || v == 0xFFFF || v == 0x2028 || v == 0x2029
    }
}
