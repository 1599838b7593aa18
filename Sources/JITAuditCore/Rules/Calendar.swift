import Foundation

/// A time-of-day test on event time.
public enum TimeCondition: Sendable, Hashable {
    /// Inside the configured business hours (not a holiday).
    case businessHours
    /// Outside the configured business hours, or on a holiday.
    case offHours
    /// Local time in `[start, end)` minutes of the day (wrapping past midnight
    /// when end < start) on the given ISO weekdays, in `zone` (nil: the configured zone).
    case between(startMinute: Int, endMinute: Int, weekdays: Set<Int>, zone: String?)
}

/// UTC offsets of one IANA zone, precomputed as a transition table so that a
/// lookup is a binary search with no Foundation call on the hot path. DST-correct.
public struct ZoneOffsets: Sendable {
    public let identifier: String
    /// Transition instants (seconds since epoch) and the offset (seconds) from each on.
    private let starts: [Int64]
    private let offsets: [Int64]

    public init?(identifier: String) {
        guard let tz = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        var starts: [Int64] = [Int64.min]
        var offsets: [Int64] = [Int64(tz.secondsFromGMT(for: Date(timeIntervalSince1970: -2_208_988_800)))]
        var t = Date(timeIntervalSince1970: -2_208_988_800)  // 1900
        let end = Date(timeIntervalSince1970: 4_102_444_800)  // 2100
        while let next = tz.nextDaylightSavingTimeTransition(after: t), next < end {
            let off = Int64(tz.secondsFromGMT(for: next))
            if off != offsets.last { starts.append(Int64(next.timeIntervalSince1970.rounded())); offsets.append(off) }
            t = next
        }
        // Zones whose base offset changed without DST are caught by sampling too.
        if starts.count == 1 {
            var s = Date(timeIntervalSince1970: -2_208_988_800)
            while s < end {
                let off = Int64(tz.secondsFromGMT(for: s))
                if off != offsets.last { starts.append(Int64(s.timeIntervalSince1970)); offsets.append(off) }
                s = s.addingTimeInterval(86_400 * 30)
            }
        }
        self.starts = starts
        self.offsets = offsets
    }

    public func offset(at secs: Int64) -> Int64 {
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= secs { lo = mid } else { hi = mid - 1 }
        }
        return offsets[lo]
    }
}

/// Local wall-clock facts about an instant.
public struct LocalTime: Sendable, Hashable {
    public var day: Int64  // days since 1970-01-01 in local time
    public var minuteOfDay: Int
    public var weekday: Int  // 1 = Monday … 7 = Sunday
}

/// Business hours in one zone: weekdays, opening times and holidays.
public struct BusinessCalendar: Sendable {
    public var zone: ZoneOffsets
    public var openMinute: Int
    public var closeMinute: Int
    public var weekdays: Set<Int>
    /// Local day numbers that are off-hours all day.
    public var holidays: Set<Int64>

    public init(zone: ZoneOffsets, openMinute: Int = 8 * 60, closeMinute: Int = 18 * 60,
                weekdays: Set<Int> = [1, 2, 3, 4, 5], holidays: Set<Int64> = []) {
        self.zone = zone
        self.openMinute = openMinute
        self.closeMinute = closeMinute
        self.weekdays = weekdays
        self.holidays = holidays
    }

    public static func local(_ ts: Timestamp, in zone: ZoneOffsets) -> LocalTime {
        let secs = ts.micros >= 0 ? ts.micros / 1_000_000 : (ts.micros - 999_999) / 1_000_000
        let local = secs + zone.offset(at: secs)
        let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let sod = local - day * 86_400
        return LocalTime(day: day, minuteOfDay: Int(sod / 60), weekday: CivilDate.weekday(days: day))
    }

    public func isBusinessHours(_ ts: Timestamp) -> Bool {
        let l = BusinessCalendar.local(ts, in: zone)
        return weekdays.contains(l.weekday) && !holidays.contains(l.day)
            && l.minuteOfDay >= openMinute && l.minuteOfDay < closeMinute
    }
}

/// The calendars a rule set refers to: the configured business calendar and
/// any zones named in `time: {between: …, timezone: …}` conditions.
public struct CalendarBook: Sendable {
    public var business: BusinessCalendar
    public var zones: [String: ZoneOffsets]

    public init(business: BusinessCalendar, zones: [String: ZoneOffsets] = [:]) {
        self.business = business
        self.zones = zones
    }

    func matches(_ t: TimeCondition, _ ts: Timestamp) -> Bool {
        switch t {
        case .businessHours: return business.isBusinessHours(ts)
        case .offHours: return !business.isBusinessHours(ts)
        case .between(let start, let end, let days, let zoneName):
            let zone = zoneName.flatMap { zones[$0] } ?? business.zone
            let l = BusinessCalendar.local(ts, in: zone)
            let inWindow = start <= end ? (l.minuteOfDay >= start && l.minuteOfDay < end)
                                        : (l.minuteOfDay >= start || l.minuteOfDay < end)
            // A window that wraps past midnight belongs to the weekday it started on.
            let startDay = (start > end && l.minuteOfDay < end) ? (l.weekday + 5) % 7 + 1 : l.weekday
            return inWindow && days.contains(startDay)
        }
    }
}
