/// What the engine remembers of one request's lifecycle, keyed by `request_id`.
/// Updated on arrival, so rules that look back (sequence, absence) see every
/// event stamped up to the watermark whatever order they came in.
struct RequestRecord: Codable, Sendable {
    /// The first `request` event for this id.
    var request: Event?
    /// Decisions (everything but `request` and `execute`), sorted by time.
    var decisions: [Decision] = []
    /// Latest event time seen for this id; drives retention.
    var lastTs: Timestamp
    /// Absence rules already started for this request (bit per rule index).
    var absenceStarted: UInt64 = 0

    struct Decision: Codable, Sendable {
        var ts: Timestamp
        var kind: EventKind
        var expiresAt: Timestamp?
    }

    init(lastTs: Timestamp) { self.lastTs = lastTs }

    /// Adds an event; returns the request event known for this id.
    @discardableResult
    mutating func record(_ e: Event) -> Event? {
        if e.ts > lastTs { lastTs = e.ts }
        switch e.kind {
        case .request:
            if request == nil { request = e }
        case .execute:
            break
        default:
            let d = Decision(ts: e.ts, kind: e.kind, expiresAt: e.expiresAt)
            var i = decisions.count
            while i > 0, decisions[i - 1].ts > d.ts { i -= 1 }
            decisions.insert(d, at: i)
        }
        return request
    }

    /// The latest decision of one of `kinds` stamped at or before `ts`.
    func latestDecision(in kinds: Set<EventKind>, atOrBefore ts: Timestamp) -> Decision? {
        var i = decisions.count - 1
        while i >= 0 {
            let d = decisions[i]
            if d.ts <= ts && kinds.contains(d.kind) { return d }
            i -= 1
        }
        return nil
    }

    func hasDecision(in kinds: Set<EventKind>, atOrBefore ts: Timestamp) -> Bool {
        decisions.contains { $0.ts <= ts && kinds.contains($0.kind) }
    }
}
