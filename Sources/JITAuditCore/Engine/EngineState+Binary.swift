/// A compact binary form of ``EngineState`` for checkpoints.
///
/// The JSON form (Codable) took seconds and doubled the state in memory for
/// a dense daemon's tens of megabytes of state, most of it the raw lines of
/// open requests escaped into JSON strings. This form writes each value once,
/// lines as plain bytes, integers as varints, in a fixed field order; a
/// version byte leads so a later layout can still read this one.
///
/// Decoding validates as it goes: a truncated or altered blob is an error
/// (``BinaryStateError``), never a crash, and events are re-parsed from their
/// raw lines exactly as the JSON form does.
extension EngineState {
    static let binaryVersion: UInt8 = 1
    /// Version 2: a request record may name its request event by its time
    /// instead of carrying the line (see ``binaryEncoded(requestEventsByReference:)``).
    static let referenceVersion: UInt8 = 2

    /// The state in the binary checkpoint form.
    ///
    /// `requestEventsByReference`: each open request's `request` event is
    /// written as its time alone, for a reader that can find the event again
    /// (``init(binary:requestEvent:)``): the store, whose audit log holds
    /// every event the state has seen. The lines were most of a large state
    /// (46–73 MB at 150,000 open requests in `scripts/bench-live`), and
    /// encoding and writing them most of a snapshot's cost.
    public func binaryEncoded(requestEventsByReference: Bool = false) -> [UInt8] {
        let copy = self
        return copy.drainBinaryEncoded(requestEventsByReference: requestEventsByReference)
    }

    /// As ``binaryEncoded(requestEventsByReference:)``, from a state given
    /// up to it: each table shard is let go once written, and the state is
    /// empty afterwards.
    ///
    /// The daemon encodes its snapshots so, on another thread, from a copy
    /// that shares the engine's tables: every shard that copy still holds,
    /// the engine copies on its next change (copy-on-write), and at 50,000
    /// events/s it changes nearly every shard within the ~100 ms an encoding
    /// takes. A shard let go before the engine gets to it is the engine's
    /// alone again and is changed in place. The request table, which every
    /// event changes, goes first.
    public consuming func drainBinaryEncoded(requestEventsByReference: Bool = false) -> [UInt8] {
        var w = BinaryWriter()
        let lineBytes = requestEventsByReference ? 16 : meanRequestLine
        w.out.reserveCapacity(4096 + requests.count * (64 + lineBytes) + reorder.count * (32 + meanRequestLine)
                              + rules.values.reduce(0) { $0 + $1.estimatedBinaryBytes })
        w.u8(requestEventsByReference ? Self.referenceVersion : Self.binaryVersion)
        w.time(maxTs); w.time(watermark); w.time(firstEventTs)
        w.uint(seq)
        w.count(reorder.items.count)
        for p in reorder.items { w.event(p.event); w.uint(p.seq); w.bool(p.matched) }
        reorder = MinHeap()
        w.count(timers.items.count)
        for t in timers.items { w.time(t.deadline); w.uint(t.seq); w.string(t.rule); w.string(t.requestID); w.time(t.start) }
        timers = MinHeap()
        w.count(findingQueue.items.count)
        for q in findingQueue.items { w.finding(q.finding); w.uint(q.seq) }
        findingQueue = MinHeap()
        w.count(requests.count)
        requests.drain { id, r in
            w.string(id)
            if requestEventsByReference {
                // 0: none, 2: the `request` event stamped this time with this id (the first such stored).
                if let e = r.request { w.u8(2); w.time(e.ts) } else { w.u8(0) }
            } else {
                w.bool(r.request != nil)
                if let e = r.request { w.event(e) }
            }
            w.count(r.decisions.count)
            for d in r.decisions { w.time(d.ts); w.u8(d.kind.rawValue); w.time(d.expiresAt) }
            w.time(r.lastTs); w.uint(r.absenceStarted)
        }
        w.count(rules.count)
        for id in Array(rules.keys) {
            var s = rules.removeValue(forKey: id)!
            w.string(id); w.drainRuleState(&s)
        }
        w.count(ruleFingerprints.count)
        for (id, f) in ruleFingerprints { w.string(id); w.string(f) }
        w.time(lastSweep)
        w.int(Int64(evictedSinceFinding)); w.time(lastEvictionFinding); w.int(Int64(meanRequestLine))
        w.int(Int64(stats.events)); w.int(Int64(stats.late)); w.int(Int64(stats.evicted)); w.int(Int64(stats.releasedEarly))
        w.count(stats.findingsByRule.count)
        for (rule, n) in stats.findingsByRule { w.string(rule); w.int(Int64(n)) }
        return w.out
    }

    /// Reads the binary checkpoint form written with the lines inline.
    public init(binary bytes: UnsafeRawBufferPointer) throws(BinaryStateError) {
        var unresolved = 0
        try self.init(binary: bytes, unresolved: &unresolved)
    }

    /// Reads the binary checkpoint form. `requestEvent` finds a request
    /// event written by reference (request id, time); a record whose event it
    /// cannot find keeps no request event and is counted in `unresolved`.
    public init(binary bytes: UnsafeRawBufferPointer, requestEvent: (String, Timestamp) -> Event? = { _, _ in nil },
                unresolved: inout Int) throws(BinaryStateError) {
        var r = BinaryReader(bytes)
        let version = try r.u8()
        guard version == Self.binaryVersion || version == Self.referenceVersion else {
            throw BinaryStateError("unknown binary state version \(version)")
        }
        let byReference = version == Self.referenceVersion
        self.init()
        maxTs = try r.time(); watermark = try r.requiredTime(); firstEventTs = try r.time()
        seq = try r.uint()
        var pending: [PendingEvent] = []
        for _ in 0..<(try r.count()) { pending.append(PendingEvent(event: try r.event(), seq: try r.uint(), matched: try r.bool())) }
        reorder = MinHeap(heapOrdered: pending)
        var due: [PendingTimer] = []
        for _ in 0..<(try r.count()) {
            due.append(PendingTimer(deadline: try r.requiredTime(), seq: try r.uint(), rule: try r.string(),
                                    requestID: try r.string(), start: try r.requiredTime()))
        }
        timers = MinHeap(heapOrdered: due)
        var queued: [QueuedFinding] = []
        for _ in 0..<(try r.count()) { queued.append(QueuedFinding(finding: try r.finding(), seq: try r.uint())) }
        findingQueue = MinHeap(heapOrdered: queued)
        let requestCount = try r.count()
        requests.reserveCapacity(requestCount)
        for _ in 0..<requestCount {
            let id = try r.string()
            var request: Event?
            if byReference {
                switch try r.u8() {
                case 0: request = nil
                case 2:
                    let ts = try r.requiredTime()
                    request = requestEvent(id, ts)
                    if request == nil { unresolved += 1 }
                default: throw BinaryStateError("bad request event tag in the record of \(id)")
                }
            } else {
                request = try r.bool() ? try r.event() : nil
            }
            var decisions: [RequestRecord.Decision] = []
            for _ in 0..<(try r.count()) {
                let ts = try r.requiredTime()
                guard let kind = EventKind(rawValue: try r.u8()) else { throw BinaryStateError("bad event kind in a decision") }
                decisions.append(.init(ts: ts, kind: kind, expiresAt: try r.time()))
            }
            var record = RequestRecord(lastTs: .distantPast)
            record.request = request
            record.decisions = decisions
            record.lastTs = try r.requiredTime()
            record.absenceStarted = try r.uint()
            requests[id] = record
        }
        for _ in 0..<(try r.count()) { rules[try r.string()] = try r.ruleState() }
        for _ in 0..<(try r.count()) { ruleFingerprints[try r.string()] = try r.string() }
        lastSweep = try r.time()
        evictedSinceFinding = try r.smallInt(); lastEvictionFinding = try r.time(); meanRequestLine = try r.smallInt()
        stats.events = try r.smallInt(); stats.late = try r.smallInt(); stats.evicted = try r.smallInt()
        stats.releasedEarly = try r.smallInt()
        for _ in 0..<(try r.count()) { stats.findingsByRule[try r.string()] = try r.smallInt() }
        guard r.atEnd else { throw BinaryStateError("\(r.remaining) unexpected bytes after the state") }
    }
}

/// A binary engine state that cannot be read: truncated, altered, or of an unknown version.
public struct BinaryStateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}

/// Appends values: unsigned LEB128 varints, zigzag for signed, length-prefixed bytes.
struct BinaryWriter {
    var out: [UInt8] = []

    mutating func u8(_ v: UInt8) { out.append(v) }
    mutating func bool(_ v: Bool) { out.append(v ? 1 : 0) }

    mutating func uint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    mutating func int(_ v: Int64) { uint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
    mutating func count(_ n: Int) { uint(UInt64(n)) }

    mutating func bytes(_ b: some Collection<UInt8>) { count(b.count); out.append(contentsOf: b) }
    mutating func string(_ s: String) { bytes(s.utf8) }
    mutating func optionalString(_ s: String?) { bool(s != nil); if let s { string(s) } }
    mutating func strings(_ a: [String]) { count(a.count); for s in a { string(s) } }

    mutating func time(_ t: Timestamp) { int(t.micros) }
    mutating func time(_ t: Timestamp?) { bool(t != nil); if let t { int(t.micros) } }

    mutating func event(_ e: Event) { bytes(e.raw) }

    mutating func finding(_ f: Finding) {
        string(f.id); string(f.rule); string(f.severity.rawValue); time(f.ts); string(f.actor); optionalString(f.requestID)
        string(f.summary)
        strings(f.evidence.requestIDs)
        bool(f.evidence.findingIDs != nil)
        if let ids = f.evidence.findingIDs { strings(ids) }
        bool(f.evidence.newValues != nil)
        if let nv = f.evidence.newValues {
            count(nv.count)
            for (k, v) in nv { string(k); string(v) }
        }
    }

    /// Writes `s`, letting go of each of its tables' shards once written
    /// (``ShardedTable/drain(_:)``); `s` is empty afterwards.
    mutating func drainRuleState(_ s: inout RuleState) {
        count(s.windows.count)
        s.windows.drain { key, win in
            string(key)
            let live = win.live
            count(live.count)
            for e in live { time(e.ts); string(e.ref); optionalString(e.rule); optionalString(e.requestID) }
            bool(win.armed)
        }
        count(s.baselines.count)
        s.baselines.drain { key, b in
            string(key); time(b.lastSeen)
            count(b.values.count)
            b.values.forEachValue { v in
                switch v {
                case .ip(let a): u8(0); uint(a.high); uint(a.low)
                case .text(let field, let value): u8(1); string(field); string(value)
                }
            }
        }
        count(s.lastFired.count)
        s.lastFired.drain { key, t in string(key); time(t) }
    }
}

/// Reads what ``BinaryWriter`` wrote; every read is bounds-checked.
struct BinaryReader {
    let p: UnsafeRawBufferPointer
    var i = 0

    init(_ p: UnsafeRawBufferPointer) { self.p = p }

    var atEnd: Bool { i == p.count }
    var remaining: Int { p.count - i }

    mutating func u8() throws(BinaryStateError) -> UInt8 {
        guard i < p.count else { throw BinaryStateError("truncated at byte \(i)") }
        defer { i += 1 }
        return p[i]
    }

    mutating func bool() throws(BinaryStateError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        default: throw BinaryStateError("bad flag at byte \(i - 1)")
        }
    }

    mutating func uint() throws(BinaryStateError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            guard shift < 64, shift < 63 || b <= 1 else { throw BinaryStateError("varint too long at byte \(i - 1)") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    mutating func int() throws(BinaryStateError) -> Int64 {
        let u = try uint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    mutating func smallInt() throws(BinaryStateError) -> Int {
        let v = try int()
        guard let n = Int(exactly: v) else { throw BinaryStateError("number out of range at byte \(i)") }
        return n
    }

    /// A count of following items, each at least one byte: no larger than what is left.
    mutating func count() throws(BinaryStateError) -> Int {
        let n = try uint()
        guard n <= UInt64(remaining) else { throw BinaryStateError("count \(n) beyond the end at byte \(i)") }
        return Int(n)
    }

    mutating func bytes() throws(BinaryStateError) -> UnsafeRawBufferPointer {
        let n = try count()
        defer { i += n }
        return UnsafeRawBufferPointer(rebasing: p[i..<(i + n)])
    }

    mutating func string() throws(BinaryStateError) -> String {
        let b = try bytes()
        guard let s = String(validating: b, as: UTF8.self) else { throw BinaryStateError("invalid UTF-8 at byte \(i - b.count)") }
        return s
    }

    mutating func optionalString() throws(BinaryStateError) -> String? { try bool() ? try string() : nil }

    mutating func strings() throws(BinaryStateError) -> [String] {
        var a: [String] = []
        for _ in 0..<(try count()) { a.append(try string()) }
        return a
    }

    mutating func requiredTime() throws(BinaryStateError) -> Timestamp { Timestamp(micros: try int()) }
    mutating func time() throws(BinaryStateError) -> Timestamp? { try bool() ? Timestamp(micros: try int()) : nil }

    mutating func event() throws(BinaryStateError) -> Event {
        let raw = try bytes()
        switch LineDecoder(maxIdentifierBytes: Int.max).decode(raw.assumingMemoryBound(to: UInt8.self)) {
        case .success(let e): return e
        case .failure(let r): throw BinaryStateError("an event in the state does not parse: \(r.message)")
        }
    }

    mutating func finding() throws(BinaryStateError) -> Finding {
        let id = try string(), rule = try string()
        guard let severity = Severity(rawValue: try string()) else { throw BinaryStateError("bad severity at byte \(i)") }
        let ts = try requiredTime(), actor = try string()
        let requestID = try optionalString()
        let summary = try string()
        var evidence = Evidence(requestIDs: try strings())
        if try bool() { evidence.findingIDs = try strings() }
        if try bool() {
            var nv: [String: String] = [:]
            for _ in 0..<(try count()) { nv[try string()] = try string() }
            evidence.newValues = nv
        }
        return Finding(id: id, rule: rule, severity: severity, ts: ts, actor: actor, requestID: requestID, summary: summary, evidence: evidence)
    }

    mutating func ruleState() throws(BinaryStateError) -> RuleState {
        var s = RuleState()
        for _ in 0..<(try count()) {
            let key = try string()
            var win = WindowState()
            for _ in 0..<(try count()) {
                let ts = try requiredTime(), ref = try string()
                let rule = try optionalString(), requestID = try optionalString()
                win.entries.append(.init(ts: ts, ref: ref, rule: rule, requestID: requestID))
            }
            win.armed = try bool()
            s.windows[key] = win
        }
        for _ in 0..<(try count()) {
            let key = try string()
            var b = Baseline(lastSeen: try requiredTime())
            for _ in 0..<(try count()) {
                switch try u8() {
                case 0: b.values.insert(.ip(IPAddress(high: try uint(), low: try uint())))
                case 1: b.values.insert(.text(field: try string(), value: try string()))
                default: throw BinaryStateError("bad baseline value tag at byte \(i - 1)")
                }
            }
            s.baselines[key] = b
        }
        for _ in 0..<(try count()) { s.lastFired[try string()] = try requiredTime() }
        return s
    }
}
