import JITAuditCore

/// The human summary `replay` prints on stderr.
public enum ReplaySummary {
    public static func render(_ s: IngestStats, _ e: EngineStats, seconds: Double) -> String {
        var out = "jitaudit replay: \(s.lines) lines, \(s.accepted) accepted, \(s.rejected) rejected, \(e.late) late, \(e.findings) findings"
        let rate = seconds > 0 ? Double(s.accepted) / seconds : 0
        let mb = seconds > 0 ? Double(s.bytes) / 1_048_576 / seconds : 0
        out += " in \(format(seconds, 2)) s (\(Int(rate)) events/s, \(format(mb, 1)) MiB/s)\n"
        if s.rejected > 0 {
            let kinds = s.rejectedByKind.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key.rawValue < $1.key.rawValue) }
            out += "rejected by reason: " + kinds.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") + "\n"
            for (pos, r) in s.firstRejections { out += "  " + LogText.escape(IngestStats.locate(pos, r)) + "\n" }
            if s.rejected > s.firstRejections.count { out += "  … and \(s.rejected - s.firstRejections.count) more\n" }
        }
        if e.findings > 0 {
            out += "findings by rule: " + e.findingsByRule.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        }
        if e.evicted > 0 { out += "state evicted at the key ceiling: \(e.evicted) keys\n" }
        if e.releasedEarly > 0 { out += "events processed before the watermark at the memory ceiling: \(e.releasedEarly)\n" }
        return out
    }

    static func format(_ v: Double, _ digits: Int) -> String {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let r = (v * p).rounded() / p
        var s = String(r)
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        }
        return s
    }
}
