/// An instant in event time: microseconds since the Unix epoch, UTC.
///
/// Event time is carried as a plain integer so the engine never touches
/// `Date()` or Foundation's calendars on the hot path, and so state can be
/// serialised and compared exactly.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var micros: Int64

    @inlinable public init(micros: Int64) { self.micros = micros }

    public static func seconds(_ s: Int64) -> Timestamp { Timestamp(micros: s * 1_000_000) }

    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.micros < b.micros }
    @inlinable public static func + (a: Timestamp, d: TimeSpan) -> Timestamp { Timestamp(micros: a.micros &+ d.micros) }
    @inlinable public static func - (a: Timestamp, d: TimeSpan) -> Timestamp { Timestamp(micros: a.micros &- d.micros) }
    @inlinable public static func - (a: Timestamp, b: Timestamp) -> TimeSpan { TimeSpan(micros: a.micros &- b.micros) }

    public static let distantPast = Timestamp(micros: Int64.min / 4)

    /// RFC 3339 in UTC with millisecond precision (microseconds when they are not zero).
    public var description: String { rfc3339 }

    public var rfc3339: String {
        var secs = micros / 1_000_000
        var frac = micros % 1_000_000
        if frac < 0 { frac += 1_000_000; secs -= 1 }
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let sod = secs - days * 86_400
        let (y, m, d) = CivilDate.fromDays(days)
        var out = ""
        out.reserveCapacity(27)
        func pad(_ v: Int64, _ width: Int) {
            let s = String(v)
            if s.count < width { out += String(repeating: "0", count: width - s.count) }
            out += s
        }
        pad(y, 4); out += "-"; pad(m, 2); out += "-"; pad(d, 2); out += "T"
        pad(sod / 3600, 2); out += ":"; pad(sod % 3600 / 60, 2); out += ":"; pad(sod % 60, 2)
        if frac % 1000 == 0 { out += "."; pad(frac / 1000, 3) } else { out += "."; pad(frac, 6) }
        out += "Z"
        return out
    }
}

/// A span of event time in microseconds.
public struct TimeSpan: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var micros: Int64
    @inlinable public init(micros: Int64) { self.micros = micros }
    public static func seconds(_ s: Int64) -> TimeSpan { TimeSpan(micros: s * 1_000_000) }
    public static func minutes(_ m: Int64) -> TimeSpan { .seconds(m * 60) }
    public static func hours(_ h: Int64) -> TimeSpan { .seconds(h * 3600) }
    public static func days(_ d: Int64) -> TimeSpan { .seconds(d * 86_400) }
    public static let zero = TimeSpan(micros: 0)
    @inlinable public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.micros < b.micros }

    /// Parses `30s`, `60m`, `4h`, `7d`, `1w`, `500ms`, or combinations such as `1h30m`.
    public init?(parsing text: String) {
        var total: Int64 = 0
        var number: Int64 = 0
        var haveNumber = false
        var sawUnit = false
        var chars = Array(text.utf8)[...]
        if chars.isEmpty { return nil }
        while let c = chars.first {
            if c >= 48 && c <= 57 {
                let (r1, o1) = number.multipliedReportingOverflow(by: 10)
                let (r2, o2) = r1.addingReportingOverflow(Int64(c - 48))
                if o1 || o2 { return nil }
                number = r2; haveNumber = true; chars = chars.dropFirst(); continue
            }
            guard haveNumber else { return nil }
            var unit: Int64
            if chars.starts(with: "ms".utf8) { unit = 1_000; chars = chars.dropFirst(2) } else {
                switch c {
                case UInt8(ascii: "s"): unit = 1_000_000
                case UInt8(ascii: "m"): unit = 60_000_000
                case UInt8(ascii: "h"): unit = 3_600_000_000
                case UInt8(ascii: "d"): unit = 86_400_000_000
                case UInt8(ascii: "w"): unit = 604_800_000_000
                default: return nil
                }
                chars = chars.dropFirst()
            }
            let (p, o) = number.multipliedReportingOverflow(by: unit)
            if o { return nil }
            total += p; number = 0; haveNumber = false; sawUnit = true
        }
        if haveNumber || !sawUnit { return nil }
        self.micros = total
    }

    /// The shortest readable spelling (`60m` is written `1h`).
    public var description: String {
        if micros == 0 { return "0s" }
        var rest = micros
        var out = ""
        for (unit, name) in [(Int64(86_400_000_000), "d"), (3_600_000_000, "h"), (60_000_000, "m"), (1_000_000, "s"), (1_000, "ms")] {
            if rest >= unit { out += "\(rest / unit)\(name)"; rest %= unit }
        }
        if rest > 0 { out += "\(rest)us" }
        return out
    }
}

/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01).
/// Howard Hinnant's algorithms: exact, branch-light, no Foundation.
public enum CivilDate {
    public static func toDays(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func fromDays(_ z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// ISO weekday of a day number: 1 = Monday … 7 = Sunday.
    public static func weekday(days: Int64) -> Int {
        // 1970-01-01 was a Thursday (4).
        let r = (days % 7 + 7) % 7
        return Int((r + 3) % 7) + 1
    }

    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        default:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        }
    }
}
