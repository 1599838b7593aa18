/// Engine settings from the configuration file (SPEC §2), with their defaults.
public struct EngineConfig: Sendable {
    /// IANA zone of business hours.
    public var timezone: String = "UTC"
    /// Local dates (day numbers since 1970-01-01) that are off-hours all day.
    public var holidays: Set<Int64> = []
    /// Addresses inside these blocks count as known sources.
    public var trustedNetworks: [CIDR] = []
    /// Out-of-order tolerance.
    public var allowedLateness: TimeSpan = .seconds(60)
    /// Longest accepted line in bytes (without the newline).
    public var lineLimit: Int = 64 * 1024
    /// Business hours: local minutes of the day, and ISO weekdays.
    public var businessOpenMinute: Int = 8 * 60
    public var businessCloseMinute: Int = 18 * 60
    public var businessDays: Set<Int> = [1, 2, 3, 4, 5]
    /// How long a request's lifecycle is remembered after its last event.
    public var requestRetention: TimeSpan = .hours(24)
    /// `run` only: events stamped further than this ahead of the host's clock
    /// are rejected (`future_timestamp`), so one bad clock or hostile client
    /// cannot push event time ahead and fire every deadline at once. Nil: no limit.
    /// Replay has no clock to compare with and never applies it.
    public var maxFutureSkew: TimeSpan? = .minutes(10)
    /// Ceiling on tracked keys per detector; the oldest are evicted beyond it.
    public var maxKeys: Int = 1_000_000
    /// Ceiling on the values one first-seen baseline keeps (an actor's
    /// addresses and devices). Past it the baseline learns nothing more, so
    /// one actor sending from ever new addresses cannot grow memory without
    /// bound, nor push out what was learned first; a value not learned reads
    /// as new each time (more findings, never fewer).
    public var maxBaselineValues: Int = 4_096
    /// Ceiling on the process's memory; the engine keeps its keyed state
    /// within this minus a fixed allowance for the runtime and buffers.
    public var memoryLimit: Int = 256 << 20

    /// What the keyed state may use: the memory limit less 48 MiB for the
    /// runtime, I/O buffers and allocator slack.
    public var stateMemoryBudget: Int { max(memoryLimit - (48 << 20), 8 << 20) }

    public init() {}

    public func businessCalendar() -> BusinessCalendar? {
        guard let zone = ZoneOffsets(identifier: timezone) else { return nil }
        return BusinessCalendar(zone: zone, openMinute: businessOpenMinute, closeMinute: businessCloseMinute,
                                weekdays: businessDays, holidays: holidays)
    }
}

/// Loads the configuration file; collects every problem with its location.
public enum ConfigLoader {
    public static let engineKeys = ["timezone", "holidays", "trusted_networks", "allowed_lateness", "line_limit",
                                    "business_hours", "request_retention", "max_keys", "max_baseline_values", "memory_limit",
                                    "max_future_skew"]

    /// Parses `text`; keys in `otherKeys` are allowed and left to the caller.
    public static func load(_ text: String, file: String, otherKeys: [String] = []) -> Result<EngineConfig, LoadError> {
        var d: [Diagnostic] = []
        var c = EngineConfig()
        guard let root = YAMLTree.parse(text, file: file, into: &d) else {
            return d.isEmpty ? .success(c) : .failure(LoadError(d))
        }
        if root.isNull { return .success(c) }
        guard let m = root.mapping("configuration", allowed: engineKeys + otherKeys, &d) else { return .failure(LoadError(d)) }
        if let v = m["timezone"], let s = v.string("timezone", &d) {
            if ZoneOffsets(identifier: s) == nil {
                d.append(Diagnostic(code: "bad_timezone", message: "timezone: unknown IANA time zone \(quoted(s))", location: v.location))
            } else { c.timezone = s }
        }
        if let v = m["holidays"], !v.isNull, let items = v.strings("holidays", &d) {
            for (k, s) in items.enumerated() {
                if let day = parseDate(s) { c.holidays.insert(day) } else {
                    let loc = v.items?[k].location ?? v.location
                    d.append(Diagnostic(code: "bad_date", message: "holidays: expected a date YYYY-MM-DD, got \(quoted(s))", location: loc))
                }
            }
        }
        if let v = m["trusted_networks"], !v.isNull, let items = v.strings("trusted_networks", &d) {
            for (k, s) in items.enumerated() {
                let loc = v.items?[k].location ?? v.location
                if let problem = CIDR.hostBitsProblem(s) {
                    d.append(Diagnostic(code: "bad_cidr", message: "trusted_networks: \(problem)", location: loc))
                } else if let n = CIDR(s) { c.trustedNetworks.append(n) } else {
                    d.append(Diagnostic(code: "bad_cidr", message: "trusted_networks: expected a CIDR such as 10.0.0.0/8, got \(quoted(s))", location: loc))
                }
            }
        }
        if let v = m["allowed_lateness"], let s = v.span("allowed_lateness", &d) { c.allowedLateness = s }
        if let v = m["line_limit"], let n = v.int("line_limit", min: 256, max: 64 * 1024 * 1024, &d) { c.lineLimit = n }
        if let v = m["request_retention"], let s = v.span("request_retention", &d) { c.requestRetention = s }
        if let v = m["max_keys"], let n = v.int("max_keys", min: 1000, &d) { c.maxKeys = n }
        if let v = m["max_baseline_values"], let n = v.int("max_baseline_values", min: 16, &d) { c.maxBaselineValues = n }
        if let v = m["max_future_skew"] {
            // `off` (or 0) turns the check off.
            if v.scalar == "off" { c.maxFutureSkew = nil } else if let s = v.span("max_future_skew", &d) { c.maxFutureSkew = s.micros > 0 ? s : nil }
        }
        if let v = m["memory_limit"], let s = v.string("memory_limit", &d) {
            if let n = parseBytes(s), n >= 64 << 20 { c.memoryLimit = n } else {
                d.append(Diagnostic(code: "bad_size", message: "memory_limit: expected a size of at least 64MiB such as 256MiB or 1GiB, got \(quoted(s))", location: v.location))
            }
        }
        if let v = m["business_hours"], let bh = v.mapping("business_hours", allowed: ["start", "end", "days"], &d) {
            if let s = bh["start"], let t = s.string("business_hours.start", &d) {
                if let mnt = parseClock(t) { c.businessOpenMinute = mnt } else { d.append(badClock("business_hours.start", t, s.location)) }
            }
            if let s = bh["end"], let t = s.string("business_hours.end", &d) {
                if let mnt = parseClock(t) { c.businessCloseMinute = mnt } else { d.append(badClock("business_hours.end", t, s.location)) }
            }
            if let s = bh["days"], let days = parseWeekdays(s, "business_hours.days", &d) {
                if days.isEmpty {
                    d.append(Diagnostic(code: "bad_weekday", message: "business_hours.days: name at least one day (with none, every hour is off-hours)", location: s.location))
                } else { c.businessDays = days }
            }
            // Business hours are one span within each day: an overnight or
            // empty one would make every hour off-hours.
            if c.businessOpenMinute >= c.businessCloseMinute, let at = bh["start"] ?? bh["end"] {
                d.append(Diagnostic(code: "bad_time", message: "business_hours: start (\(clock(c.businessOpenMinute))) must be before end (\(clock(c.businessCloseMinute))) on the same day",
                                    location: at.location))
            }
        }
        return d.isEmpty ? .success(c) : .failure(LoadError(d))
    }

    /// `256MiB`, `1GiB`, `512M`, or a plain number of bytes.
    static func parseBytes(_ s: String) -> Int? {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)]
        for (suffix, mult) in units where s.hasSuffix(suffix) {
            guard let n = Int(s.dropLast(suffix.count).trimmingWhitespace), n >= 0 else { return nil }
            let (v, o) = n.multipliedReportingOverflow(by: mult)
            return o ? nil : v
        }
        return Int(s)
    }

    static func clock(_ minute: Int) -> String {
        let h = minute / 60, m = minute % 60
        return (h < 10 ? "0" : "") + "\(h):" + (m < 10 ? "0" : "") + "\(m)"
    }

    static func badClock(_ what: String, _ t: String, _ loc: SourceLocation) -> Diagnostic {
        Diagnostic(code: "bad_time", message: "\(what): expected a time of day HH:MM, got \(quoted(t))", location: loc)
    }

    /// `YYYY-MM-DD` to a day number.
    static func parseDate(_ s: String) -> Int64? {
        let parts = s.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int64(parts[0]), let m = Int64(parts[1]), let dd = Int64(parts[2]),
              m >= 1, m <= 12, dd >= 1, dd <= CivilDate.daysInMonth(year: y, month: m) else { return nil }
        return CivilDate.toDays(year: y, month: m, day: dd)
    }

    /// `HH:MM` (00:00–24:00) to minutes of the day.
    static func parseClock(_ s: String) -> Int? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), h >= 0, m >= 0, m <= 59, h * 60 + m <= 24 * 60 else { return nil }
        return h * 60 + m
    }

    static let weekdayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    static func parseWeekdays(_ v: YAMLTree, _ what: String, _ d: inout [Diagnostic]) -> Set<Int>? {
        guard let names = v.strings(what, &d) else { return nil }
        var out = Set<Int>()
        for n in names {
            if let i = weekdayNames.firstIndex(of: String(n.lowercased().prefix(3))), n.count >= 3 { out.insert(i + 1) } else {
                d.append(Diagnostic(code: "bad_weekday", message: "\(what): expected weekday names (mon … sun), got \(quoted(n))", location: v.location))
                return nil
            }
        }
        return out
    }
}
