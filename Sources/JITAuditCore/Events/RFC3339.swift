/// RFC 3339 timestamp parsing over raw bytes, for the line decoder's hot path.
public enum RFC3339 {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)`. `t`/`z` and a space separator are
    /// accepted as RFC 3339 §5.6 allows; fractions beyond microseconds are truncated.
    /// Returns nil for anything else, including impossible dates such as February 30.
    public static func parse(_ p: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        let n = p.count
        guard n >= 20 else { return nil }
        @inline(__always) func digit(_ i: Int) -> Int64? {
            let c = p[i] &- 48
            return c < 10 ? Int64(c) : nil
        }
        @inline(__always) func two(_ i: Int) -> Int64? {
            guard let a = digit(i), let b = digit(i + 1) else { return nil }
            return a * 10 + b
        }
        guard let y1 = two(0), let y2 = two(2), p[4] == 45, let mo = two(5), p[7] == 45, let d = two(8) else { return nil }
        let sep = p[10]
        guard sep == 84 || sep == 116 || sep == 32 else { return nil }
        guard let h = two(11), p[13] == 58, let mi = two(14), p[16] == 58, let s = two(17) else { return nil }
        let year = y1 * 100 + y2
        guard mo >= 1, mo <= 12, d >= 1, d <= CivilDate.daysInMonth(year: year, month: mo),
              h <= 23, mi <= 59, s <= 60 else { return nil }
        var i = 19
        var frac: Int64 = 0
        if p[i] == 46 {  // '.'
            i += 1
            var digits = 0
            while i < n, let dv = digit(i) {
                if digits < 6 { frac = frac * 10 + dv }
                digits += 1; i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 6 { for _ in digits..<6 { frac *= 10 } }
        }
        guard i < n else { return nil }
        var offset: Int64 = 0
        let z = p[i]
        if z == 90 || z == 122 {  // Z z
            i += 1
        } else if z == 43 || z == 45 {  // + -
            guard i + 6 == n, let oh = two(i + 1), p[i + 3] == 58, let om = two(i + 4), oh <= 23, om <= 59 else { return nil }
            offset = (oh * 3600 + om * 60) * (z == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == n else { return nil }
        let days = CivilDate.toDays(year: year, month: mo, day: d)
        let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset
        // The instant must have a UTC spelling too (years 0000–9999), or findings
        // and the audit log could not write it back.
        guard secs >= firstSecond, secs <= lastSecond else { return nil }
        return Timestamp(micros: secs * 1_000_000 + frac)
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the epoch.
    static let firstSecond: Int64 = -62_167_219_200
    static let lastSecond: Int64 = 253_402_300_799

    public static func parse(_ s: String) -> Timestamp? {
        var s = s
        return s.withUTF8 { parse($0) }
    }
}
