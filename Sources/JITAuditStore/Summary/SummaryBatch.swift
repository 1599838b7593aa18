import JITAuditCore

/// What one transaction batch adds to the summary tables (see
/// ``SummarySchema``), merged in memory as events are appended and written at
/// commit: one upsert per request id and per (hour, type) touched, instead of
/// one per event.
struct SummaryBatch {
    /// One request id's part of the batch; merged into its row by the same rules.
    struct Request {
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

    struct Hour: Hashable {
        var hour: Int64
        var kind: EventKind
    }

    var requests: [String: Request] = [:]
    var hours: [Hour: Int64] = [:]

    var isEmpty: Bool { requests.isEmpty && hours.isEmpty }

    mutating func removeAll() {
        requests.removeAll(keepingCapacity: true)
        hours.removeAll(keepingCapacity: true)
    }

    /// Adds one appended event.
    mutating func add(_ e: Event) {
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

}
