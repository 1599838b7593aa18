import Testing
@testable import JITAuditStore

/// `replay --db` builds each batch's summary part on the engine thread and
/// the writer merges it: the result must be what adding the events one by one gives.
@Suite("Summary batches")
struct SummaryBatchTests {
    private func fields(_ b: SummaryBatch) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (id, r) in b.requests {
            out[id] = ["\(r.nreq)", "\(r.rts.map(String.init) ?? "-")", r.requester ?? "-", r.priority ?? "-", r.environment ?? "-",
                       "\(r.dts.map(String.init) ?? "-")", r.dkind?.description ?? "-", r.approver ?? "-", "\(r.cts.map(String.init) ?? "-")"]
        }
        for (h, n) in b.hours { out["hour \(h.hour) \(h.kind)"] = ["\(n)"] }
        return out
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func mergingBatchPartsEqualsAddingEveryEvent(seed: UInt64) throws {
        // Few ids, few distinct times: ties and out-of-order times on purpose.
        var rng = SplitMix64(seed: seed)
        let kinds = ["request", "approve", "reject", "cancel", "expire", "execute", "revoke"]
        var events: [Event] = []
        for i in 0..<3_000 {
            let ts = Timestamp(micros: t0.micros + Int64(rng.below(40)) * 60_000_000)
            let kind = kinds[rng.below(kinds.count)]
            events.append(try event(eventLine(ts.rfc3339, kind, "req-\(rng.below(60))", "user\(rng.below(9))",
                                              ["environment": "env\(i % 3)", "priority": ["low", "high"][rng.below(2)]])))
        }
        var whole = SummaryBatch()
        for e in events { whole.add(e) }
        var merged = SummaryBatch()
        var start = 0
        while start < events.count {
            let end = min(events.count, start + 1 + rng.below(400))
            var part = SummaryBatch()
            for e in events[start..<end] { part.add(e) }
            merged.merge(part)
            start = end
        }
        #expect(fields(merged) == fields(whole))
    }
}
