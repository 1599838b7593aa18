/// One event's row in a lookup table, kept by the writer until its merge.
struct KeyRow {
    var key: String
    var ts: Int64
    var seq: Int64
}

/// A lookup-table merge under way: the rows of the events after the table's
/// marker up to `upTo`, sorted as the table stores them, written a range of
/// keys at a time (see ``PartialMergeSchema``).
struct KeyMerge {
    let upTo: Int64
    private(set) var rows: [KeyRow]
    private var next = 0

    init(upTo: Int64, rows: [KeyRow]) {
        self.upTo = upTo
        self.rows = rows
        self.rows.sort { a, b in
            let c = utf8Compare(a.key, b.key)
            return c != 0 ? c < 0 : (a.ts, a.seq) < (b.ts, b.seq)
        }
    }

    var isDone: Bool { next == rows.count }

    /// The next `budget` rows or more: the range ends with the last row of a
    /// key, so the rows written are always those of the keys up to one.
    mutating func take(_ budget: Int) -> ArraySlice<KeyRow> {
        var end = next + min(max(1, budget), rows.count - next)
        while end < rows.count, end > next, utf8Compare(rows[end].key, rows[end - 1].key) == 0 { end += 1 }
        defer { next = end }
        return rows[next..<end]
    }

    /// The key of the last row taken.
    var lastKey: String? { next > 0 ? rows[next - 1].key : nil }
}

/// A summary merge under way: what the events after the summaries' marker up
/// to `upTo` add to `requests`, written in request-id order a range at a
/// time, and to `event_hours`, written with the last range.
struct SummaryMerge {
    let upTo: Int64
    let requests: [(id: String, part: SummaryBatch.Request)]
    let hours: [SummaryBatch.Hour: Int64]
    private var next = 0

    init(upTo: Int64, batch: SummaryBatch) {
        self.upTo = upTo
        requests = batch.requests.sorted { utf8Compare($0.key, $1.key) < 0 }.map { ($0.key, $0.value) }
        hours = batch.hours
    }

    var isDone: Bool { next == requests.count }

    mutating func take(_ budget: Int) -> ArraySlice<(id: String, part: SummaryBatch.Request)> {
        let end = next + min(max(1, budget), requests.count - next)
        defer { next = end }
        return requests[next..<end]
    }

    var lastKey: String? { next > 0 ? requests[next - 1].id : nil }
}
