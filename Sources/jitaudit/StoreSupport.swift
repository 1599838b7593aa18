import ArgumentParser
import JITAuditCore
import JITAuditStore
#if canImport(Glibc)
import Glibc
#endif

/// `--db` and `--busy-timeout` for the commands that read or maintain a store.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp("The jitaudit SQLite database.", valueName: "FILE"))
    var path: String

    @Option(help: ArgumentHelp("How long to wait for a lock held by another process, in milliseconds.", valueName: "MS"))
    var busyTimeout: Int32 = 5_000

    /// Opens the store, or prints why not and exits 1.
    func open(_ mode: AuditStore.Mode, command: String, create: Bool = true) throws -> AuditStore {
        try openStore(path, mode: mode, busyTimeout: busyTimeout, command: command, create: create)
    }
}

/// `bulkLoad`: `replay --db`, which writes as fast as it decodes and has no
/// finding waiting on latency.
func openStore(_ path: String, mode: AuditStore.Mode, busyTimeout: Int32, command: String, bulkLoad: Bool = false,
               create: Bool = true) throws -> AuditStore {
    var options = AuditStore.Options()
    options.busyTimeoutMilliseconds = busyTimeout
    options.createIfMissing = create
    // A bulk load's index file writer shares the cores rather than waiting
    // for idle ones (there are none). Its merges are the daemon's size: with
    // the writer on its share of a core, 65,536-event merges took less CPU
    // than 262,144-event ones (which an idle-only writer needed to keep up).
    if bulkLoad { options.indexWriterOnIdleCoresOnly = false }
    do {
        let store = try AuditStore(path: path, mode: mode, options: options)
        // The index file (lookup tables, report summaries) is derived from the
        // log: rebuilt by a writer, read around by a reader; worth a line.
        if let note = store.indexFileNote { printError("jitaudit \(command): note: \(note)") }
        return store
    } catch {
        printError("jitaudit \(command): \(error)")
        throw Exit.runtimeFailure
    }
}

/// The wall clock, read only here in the command layer (never in the engine).
enum WallClock {
    static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(micros: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000)
    }
}

/// A point in time on the command line: a span back from now (`7d`, `12h`,
/// `30m`), an RFC 3339 timestamp, or a date (`2026-03-02`, midnight UTC).
struct TimeBound: ExpressibleByArgument, Sendable {
    enum Value: Sendable { case ago(TimeSpan), at(Timestamp) }
    var value: Value
    /// As written, for `--help`'s default.
    var text: String

    var defaultValueDescription: String { text }

    init?(argument: String) {
        text = argument
        if let span = TimeSpan(parsing: argument) {
            value = .ago(span)
        } else if let t = RFC3339.parse(argument) {
            value = .at(t)
        } else if let day = TimeBound.date(argument) {
            value = .at(Timestamp(micros: day * 86_400_000_000))
        } else {
            return nil
        }
    }

    static var defaultCompletionKind: CompletionKind { .default }

    func resolve(now: Timestamp) -> Timestamp {
        switch value {
        case .ago(let span): now - span
        case .at(let t): t
        }
    }

    /// `YYYY-MM-DD` as a day number since 1970-01-01.
    static func date(_ s: String) -> Int64? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
              (1...12).contains(m), d >= 1, d <= CivilDate.daysInMonth(year: y, month: m) else { return nil }
        return CivilDate.toDays(year: y, month: m, day: d)
    }
}

extension TimeBound {
    static let help = "a span back from now (7d, 12h, 30m), an RFC 3339 time, or a date YYYY-MM-DD (UTC midnight)"

    /// `--since` and `--until` resolved against `now`; a period that ends
    /// before it starts is a usage error (exit 2), never a silently empty answer.
    static func period(_ since: TimeBound?, _ until: TimeBound?, now: Timestamp, command: String) throws -> (Timestamp?, Timestamp?) {
        let start = since?.resolve(now: now), end = until?.resolve(now: now)
        if let start, let end, start >= end {
            printError("jitaudit \(command): the period is empty: --since (\(start.rfc3339)) must be before --until (\(end.rfc3339))")
            throw Exit.usage
        }
        return (start, end)
    }
}

/// Quotes a CSV field (RFC 4180). A field a spreadsheet would run as a
/// formula (leading `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'`.
func csvField(_ s: String) -> String {
    var v = s
    if let f = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(f) { v = "'" + v }
    guard v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return v }
    var out = "\""
    for c in v { if c == "\"" { out += "\"\"" } else { out.append(c) } }
    return out + "\""
}
