import JITAuditCore

/// What one transaction batch adds to the summary tables (see
/// ``SummarySchema``), merged in memory as events are appended and written at
/// commit: one upsert per request id and per (hour, type) touched, instead of
/// one per event.
///
/// `replay --db` builds each batch's part on its engine thread and hands it
/// to the writer with the events (``AuditStore/addSummary(_:)``): the writer
/// thread sets that command's pace, the engine thread has time to spare.
package struct SummaryBatch: Sendable {
    /// One request id's part of the batch; merged into its row by the same rules.
    struct Request: Sendable {
        var nreq: Int64 = 0
        var rts: Int64?
        var requester: String?
        var priority: String?
        var environment: String?
        var dts: Int64?
        var dkind: EventKind?
        var approver: String?
        var cts: Int64?
    }

    struct Hour: Hashable, Sendable {
        var hour: Int64
        var kind: EventKind
    }

    var requests: [String: Request] = [:]
    var hours: [Hour: Int64] = [:]

    package init() {}

    var isEmpty: Bool { requests.isEmpty && hours.isEmpty }

    mutating func removeAll() {
        requests.removeAll(keepingCapacity: true)
        hours.removeAll(keepingCapacity: true)
    }

    /// Adds what a later batch adds, as if its events had been added here one by one.
    mutating func merge(_ later: SummaryBatch) {
        // The common case (a batch's part into an empty one): taken whole,
        // not rehashed entry by entry.
        if isEmpty { self = later; return }
        for (h, n) in later.hours { hours[h, default: 0] += n }
        for (id, r) in later.requests { requests[id, default: Request()].merge(r) }
    }

    /// Adds one appended event.
    package mutating func add(_ e: Event) {
        hours[Hour(hour: SummarySchema.hour(e.ts.micros), kind: e.kind), default: 0] += 1
        let ts = e.ts.micros
        switch e.kind {
        case .request:
            requests[e.requestID, default: Request()].addRequest(ts: ts, requester: e.namedRequester,
                                                                 priority: (e.priority ?? .normal).description, environment: e.environment)
        case .approve, .reject:
            requests[e.requestID, default: Request()].addDecision(ts: ts, kind: e.kind, approver: e.actorKey)
        case .cancel, .expire:
            requests[e.requestID, default: Request()].addClose(ts: ts)
        case .execute, .revoke:
            break
        }
    }
}

extension SummaryBatch.Request {
    /// An earlier request event's fields win; at the same time the first appended stays.
    mutating func addRequest(ts: Int64, requester: String?, priority: String, environment: String?) {
        nreq += 1
        if rts == nil || ts < rts! {
            rts = ts; self.requester = requester; self.priority = priority; self.environment = environment
        }
    }

    /// The earliest decision wins; at the same time the first appended stays (the
    /// event stored first, as the rebuild from the events picks).
    mutating func addDecision(ts: Int64, kind: EventKind, approver: String) {
        addClose(ts: ts)
        if dts == nil || ts < dts! { dts = ts; dkind = kind; self.approver = approver }
    }

    mutating func addClose(ts: Int64) {
        if cts == nil || ts < cts! { cts = ts }
    }

    /// Takes a later batch's part for the same id (its events were appended after this one's).
    mutating func merge(_ later: Self) {
        nreq += later.nreq
        if let ts = later.rts, rts == nil || ts < rts! {
            rts = ts; requester = later.requester; priority = later.priority; environment = later.environment
        }
        if let ts = later.dts, dts == nil || ts < dts! { dts = ts; dkind = later.dkind; approver = later.approver }
        if let ts = later.cts { addClose(ts: ts) }
    }

}
