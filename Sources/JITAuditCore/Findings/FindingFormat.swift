/// Renders findings for line-oriented outputs.
public enum FindingFormat {
    /// One JSON object, keys in SPEC §3 order, no trailing newline.
    public static func json(_ f: Finding) -> String {
        var out = "{\"id\":"
        JSONText.appendString(f.id, to: &out)
        out += ",\"rule\":"; JSONText.appendString(f.rule, to: &out)
        out += ",\"severity\":"; JSONText.appendString(f.severity.rawValue, to: &out)
        out += ",\"ts\":"; JSONText.appendString(f.ts.rfc3339, to: &out)
        out += ",\"actor\":"; JSONText.appendString(f.actor, to: &out)
        if let r = f.requestID { out += ",\"request_id\":"; JSONText.appendString(r, to: &out) }
        out += ",\"summary\":"; JSONText.appendString(f.summary, to: &out)
        out += ",\"evidence\":" + evidenceJSON(f.evidence)
        out += "}"
        return out
    }

    public static func evidenceJSON(_ e: Evidence) -> String {
        var out = "{\"request_ids\":["
        for (k, r) in e.requestIDs.enumerated() { if k > 0 { out += "," }; JSONText.appendString(r, to: &out) }
        out += "]"
        if let ids = e.findingIDs {
            out += ",\"finding_ids\":["
            for (k, r) in ids.enumerated() { if k > 0 { out += "," }; JSONText.appendString(r, to: &out) }
            out += "]"
        }
        if let nv = e.newValues {
            out += ",\"new\":{"
            for (k, key) in nv.keys.sorted().enumerated() {
                if k > 0 { out += "," }
                JSONText.appendString(key, to: &out); out += ":"; JSONText.appendString(nv[key]!, to: &out)
            }
            out += "}"
        }
        return out + "}"
    }

    /// One readable line: `2026-03-02T14:07:11.250Z CRITICAL self_approval alice req-8812: summary`.
    /// Control characters are escaped so event text cannot forge extra lines or terminal escapes.
    public static func text(_ f: Finding) -> String {
        var out = f.ts.rfc3339 + " " + f.severity.rawValue.uppercased() + " " + f.rule + " actor=" + LogText.escape(f.actor)
        if let r = f.requestID { out += " request=" + LogText.escape(r) }
        out += ": " + LogText.escape(f.summary)
        return out
    }
}

/// JSON string encoding (RFC 8259) for hand-built output.
public enum JSONText {
    public static func appendString(_ s: String, to out: inout String) {
        out += "\""
        var plain = true
        for b in s.utf8 where b < 0x20 || b == 34 || b == 92 { plain = false; break }
        if plain { out += s; out += "\""; return }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    public static func quote(_ s: String) -> String {
        var out = ""
        appendString(s, to: &out)
        return out
    }
}

/// Escaping for log lines (text output, syslog, journal MESSAGE): control
/// characters, DEL and C1 controls become visible `\xNN`, and the Unicode
/// line and paragraph separators and bidi embedding, override and isolate
/// controls `\u{NNNN}`, so no event text can start a new log line, drive a
/// terminal or reorder what a reader sees.
public enum LogText {
    public static func escape(_ s: String) -> String {
        var clean = true
        // 0xC2 leads the C1 controls, 0xE2 the separators and bidi controls.
        for b in s.utf8 where b < 0x20 || b == 0x7F || b == 0xC2 || b == 0xE2 || b == 92 { clean = false; break }
        if clean { return s }
        var out = ""
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if v < 0x20 || v == 0x7F || (v >= 0x80 && v < 0xA0) {
                let hex = String(v, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            } else if v == 0x2028 || v == 0x2029 || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) {
                out += "\\u{" + String(v, radix: 16) + "}"
            } else if scalar == "\\" {
                out += "\\\\"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
