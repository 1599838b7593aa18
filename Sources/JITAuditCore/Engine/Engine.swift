/// The event-time detection engine: pure, single-threaded, no I/O, no clock.
///
/// Feed events with ``ingest(_:)`` in arrival order; the engine keeps a
/// watermark (largest event time − allowed lateness) and processes events in
/// event-time order once the watermark passes them, so a stream reordered
/// within the lateness gives the same findings as the sorted one. Rules that
/// depend only on an event and its request fire on arrival when the request is
/// known. Deadlines are timers on the watermark. Call ``advance(to:)`` when
/// time moves without events (a live daemon's wall clock) and ``finish()`` at
/// the end of a replay. Collect findings with ``takeFindings()``.
public struct Engine: Sendable {
    public let rules: RuleSet
    public let config: EngineConfig
    private var core: EngineState
    /// Keyed state per rule, by index into `rules.rules` (kept out of `core` on
    /// the hot path so a lookup hashes the key, not the rule id too).
    private var perRule: [RuleState]
    private var emitted: [Finding] = []
    /// Events released and deadlines fired so far by this engine value (not
    /// part of its state): tells a caller whether ``advance(to:)`` did anything.
    public private(set) var steps = 0

    // Rules by role, as indexes into `rules.rules`.
    private let matchRules: [Int]
    private let eventThresholds: [Int]
    private let findingThresholds: [Int]
    private let firstSeenRules: [Int]
    private let absenceRules: [Int]
    private let sequenceRules: [Int]
    private let retention: TimeSpan
    /// Per rule: the event kinds its trigger condition can match (bit per
    /// `EventKind.rawValue`), so most rules skip most events without evaluating anything.
    private let kindMasks: [UInt8]
    private let sweepInterval: TimeSpan
    /// Per rule: the values its first-seen baselines hold in all, for the
    /// memory estimate. Derived from the state (counted at init, kept up to
    /// date), so not part of it.
    private var baselineValueCounts: [Int]

    public init(rules: RuleSet, config: EngineConfig, state: EngineState = EngineState()) {
        self.rules = rules
        self.config = config
        self.core = state
        // A rule keeps its state across a reload only if its definition is unchanged.
        self.perRule = rules.rules.map { r in
            guard let kept = state.rules[r.id], state.ruleFingerprints[r.id].map({ $0 == r.fingerprint }) ?? true else { return RuleState() }
            return kept
        }
        self.core.rules = [:]
        self.core.ruleFingerprints = [:]
        var m: [Int] = [], et: [Int] = [], ft: [Int] = [], fs: [Int] = [], ab: [Int] = [], sq: [Int] = []
        var longest = TimeSpan.zero
        for (i, r) in rules.rules.enumerated() {
            switch r.kind {
            case .match: m.append(i)
            case .threshold(let t): (t.source == .events ? { et.append(i) } : { ft.append(i) })()
            case .firstSeen: fs.append(i)
            case .absence(let a): ab.append(i); longest = max(longest, a.within)
            case .sequence: sq.append(i)
            }
        }
        precondition(ab.count <= 64, "at most 64 absence rules")
        kindMasks = rules.rules.map { rule in
            let trigger: Condition
            switch rule.kind {
            case .match(let when): trigger = when
            case .threshold(let t): trigger = t.when
            case .firstSeen(let f): trigger = f.when
            case .absence(let a): trigger = a.start
            case .sequence(let q): trigger = q.trigger
            }
            guard let kinds = trigger.eventKinds else { return 0xFF }
            return kinds.reduce(UInt8(0)) { $0 | (1 << $1.rawValue) }
        }
        (matchRules, eventThresholds, findingThresholds, firstSeenRules, absenceRules, sequenceRules) = (m, et, ft, fs, ab, sq)
        // A request must outlive its longest deadline, or an absence would fire on forgotten core.
        retention = max(config.requestRetention, TimeSpan(micros: longest.micros + config.allowedLateness.micros))
        sweepInterval = max(.hours(1), TimeSpan(micros: retention.micros / 2))
        baselineValueCounts = perRule.map { Engine.valueCount($0.baselines) }
    }

    static func valueCount(_ baselines: ShardedTable<Baseline>) -> Int {
        baselines.values.reduce(0) { $0 + $1.values.count }
    }

    /// The whole state, for a checkpoint. Rules' state is keyed by rule id.
    public var state: EngineState {
        var s = core
        for (i, r) in rules.rules.enumerated() {
            s.rules[r.id] = perRule[i]
            s.ruleFingerprints[r.id] = r.fingerprint
        }
        return s
    }

    /// Current watermark: events at or before it are final.
    public var watermark: Timestamp { core.watermark }
    public var stats: EngineStats { core.stats }
    public var hasFindings: Bool { !emitted.isEmpty }

    /// Returns the findings raised since the last call, in the order raised.
    public mutating func takeFindings() -> [Finding] {
        defer { emitted.removeAll(keepingCapacity: true) }
        return emitted
    }

    /// Takes one accepted event in arrival order.
    public mutating func ingest(_ event: Event) {
        core.stats.events += 1
        if event.kind == .request { core.meanRequestLine += (event.raw.count - core.meanRequestLine) / 64 }
        if event.ts < core.watermark { core.stats.late += 1 }
        if core.maxTs.map({ event.ts > $0 }) ?? true { core.maxTs = event.ts }
        core.seq &+= 1
        var expired = false
        var request = core.requests.withValue(forKey: event.requestID, default: { RequestRecord(lastTs: event.ts) }) { record -> Event? in
            if record.lastTs < event.ts - retention {
                expired = true
                return nil
            }
            return record.record(event)
        }
        if expired { request = startLifecycleAgain(event) }
        // Rules over one event and its request need not wait for the watermark
        // once the request is known: later events cannot change their verdict.
        var matched = false
        if request != nil || event.kind == .request {
            runMatchRules(event, request: request)
            matched = true
        }
        core.reorder.push(PendingEvent(event: event, seq: core.seq, matched: matched))
        if let maxTs = core.maxTs { advance(to: maxTs - config.allowedLateness) }
        // Checked every 256 events: the estimate walks every table, and 256
        // events cannot move memory far.
        if core.stats.events & 255 == 0 { enforceKeyCeiling() }
    }

    /// `event` comes more than the retention after the last event of its
    /// request's lifecycle: that lifecycle is over, and `event` starts a new
    /// one (an `execute` then counts as one without approval), exactly so,
    /// whatever the sweep (which forgets such lifecycles a shard at a time,
    /// so only within an interval) got to and whatever order the events of
    /// that moment came in. The old lifecycle is finished first: the
    /// retention outlasts every deadline plus the lateness, so moving the
    /// watermark to where this event takes it releases its events and fires
    /// its deadlines now, against the record they belong to.
    private mutating func startLifecycleAgain(_ event: Event) -> Event? {
        advance(to: event.ts - config.allowedLateness)
        core.requests[event.requestID] = nil
        return core.requests.withValue(forKey: event.requestID, default: { RequestRecord(lastTs: event.ts) }) { $0.record(event) }
    }

    /// Moves the watermark forward (never back) and processes what it passes.
    public mutating func advance(to watermark: Timestamp) {
        if watermark > core.watermark { core.watermark = watermark }
        let w = core.watermark
        while true {
            let nextEvent = core.reorder.topOrder.map { Timestamp(micros: $0.ts) }
            let nextTimer = core.timers.topOrder.map { Timestamp(micros: $0.ts) }
            if let e = nextEvent, e <= w, nextTimer.map({ e <= $0 }) ?? true {
                release(core.reorder.pop()!)
                steps &+= 1
            } else if let t = nextTimer, t <= w {
                fire(core.timers.pop()!)
                steps &+= 1
            } else {
                break
            }
        }
        while let next = core.findingQueue.topOrder, next.ts <= w.micros, let q = core.findingQueue.pop() {
            for i in findingThresholds { threshold(i, subject: Subject(finding: q.finding)) }
        }
        if let last = core.lastSweep {
            sweep(from: last, to: w)
        } else if w > .distantPast {
            core.lastSweep = w
        }
    }

    /// End of input: the watermark moves to the last event time, so every event
    /// is processed and every deadline already reached fires.
    public mutating func finish() {
        if let maxTs = core.maxTs { advance(to: maxTs) }
    }

    // MARK: - Processing in event-time order

    private mutating func release(_ p: PendingEvent) {
        let e = p.event
        if core.firstEventTs == nil { core.firstEventTs = e.ts }
        // One hash lookup serves the whole event: nothing below adds or removes requests.
        let slot = core.requests.index(forKey: e.requestID)
        let request = slot.flatMap { core.requests[at: $0].request }
        if !p.matched { runMatchRules(e, request: request) }
        let subject = Subject(event: e, request: request)
        let bit = UInt8(1) << e.kind.rawValue
        for i in eventThresholds where kindMasks[i] & bit != 0 { threshold(i, subject: subject) }
        for i in firstSeenRules { firstSeen(i, subject: subject) }
        for (n, i) in absenceRules.enumerated() where kindMasks[i] & bit != 0 {
            guard case .absence(let a) = rules.rules[i].kind, a.start.evaluate(subject, rules.calendars) else { continue }
            // One deadline per request, from its first start event.
            guard let slot, core.requests[at: slot].absenceStarted & (1 << UInt64(n)) == 0 else { continue }
            core.requests[at: slot].absenceStarted |= 1 << UInt64(n)
            core.seq &+= 1
            core.timers.push(PendingTimer(deadline: e.ts + a.within, seq: core.seq, rule: rules.rules[i].id,
                                           requestID: e.requestID, start: e.ts, ruleIndex: i))
        }
        for i in sequenceRules where kindMasks[i] & bit != 0 {
            sequence(i, subject: subject, record: slot.map { core.requests[at: $0] })
        }
    }

    private mutating func runMatchRules(_ e: Event, request: Event?) {
        let subject = Subject(event: e, request: request)
        let bit = UInt8(1) << e.kind.rawValue
        for i in matchRules where kindMasks[i] & bit != 0 {
            guard case .match(let when) = rules.rules[i].kind, when.evaluate(subject, rules.calendars) else { continue }
            raise(i, subject: subject, ts: e.ts, actor: e.actor, requestID: e.requestID, vars: [:], evidence: Evidence(requestIDs: [e.requestID]))
        }
    }

    private mutating func threshold(_ i: Int, subject: Subject) {
        let rule = rules.rules[i]
        guard case .threshold(let t) = rule.kind, t.when.evaluate(subject, rules.calendars) else { return }
        guard let (display, key) = subject.groupKey(t.groupBy) else { return }
        let ts = subject.ts
        var w = perRule[i].windows.removeValue(forKey: key) ?? WindowState()
        w.expire(before: ts - t.window)
        if t.rearm && w.count < t.count { w.armed = true }
        let ref = subject.finding?.id ?? subject.event!.requestID
        w.append(.init(ts: ts, ref: ref, rule: subject.finding?.rule, requestID: subject.finding?.requestID))
        var fire = false
        if w.count >= t.count && (!t.rearm || w.armed) {
            fire = true
            if t.rearm { w.armed = false }
        }
        perRule[i].windows[key] = w
        guard fire else { return }
        let live = w.live
        var vars = ["count": String(w.count), "window": t.window.description, "group": display]
        var evidence: Evidence
        let actor: String
        if let f = subject.finding {
            actor = f.actor
            var seenRules: [String] = []
            for e in live { if let r = e.rule, !seenRules.contains(r) { seenRules.append(r) } }
            vars["rules"] = seenRules.joined(separator: ", ")
            var requestIDs: [String] = []
            for e in live { if let r = e.requestID, !requestIDs.contains(r) { requestIDs.append(r) } }
            evidence = Evidence(requestIDs: requestIDs, findingIDs: live.map(\.ref))
        } else {
            actor = display
            evidence = Evidence(requestIDs: live.map(\.ref))
        }
        raise(i, subject: subject, ts: ts, actor: actor, requestID: nil, vars: vars, evidence: evidence, discriminator: key)
    }

    private mutating func firstSeen(_ i: Int, subject: Subject) {
        let rule = rules.rules[i]
        guard case .firstSeen(let fs) = rule.kind, let e = subject.event else { return }
        guard fs.learnFrom.evaluate(subject, rules.calendars) else { return }
        guard let (display, key) = subject.groupKey(fs.groupBy) else { return }
        var new: [(String, String)] = []
        var added = 0, refused = 0
        let limit = config.maxBaselineValues
        perRule[i].baselines.withValue(forKey: key, default: { Baseline(lastSeen: e.ts) }) { base in
            if e.ts > base.lastSeen { base.lastSeen = e.ts }
            for ref in fs.values {
                let token: BaselineValue
                switch subject.value(ref) {
                case .absent: continue
                case .ip(let ip):
                    if fs.trustedNetworks, config.trustedNetworks.contains(where: { $0.contains(ip) }) { continue }
                    token = .ip(ip)
                case let v:
                    token = .text(field: ref.description, value: v.text!)
                }
                let r = base.values.insert(token, limit: limit)
                if r.new { new.append((ref.description, subject.value(ref).text!)) }
                if r.kept { added += 1 } else if r.new { refused += 1 }
            }
        }
        baselineValueCounts[i] += added
        if refused > 0 {
            reportEvictions([("\(rule.id) values of \(display) not learned", refused)], at: e.ts,
                            ceiling: "max_baseline_values \(limit)")
        }
        guard !new.isEmpty, let first = core.firstEventTs, e.ts >= first + fs.learningPeriod,
              fs.when.evaluate(subject, rules.calendars) else { return }
        let newText = new.map { "\($0.0) \($0.1)" }.joined(separator: " and ")
        raise(i, subject: subject, ts: e.ts, actor: e.actor, requestID: e.requestID, vars: ["new": newText],
              evidence: Evidence(requestIDs: [e.requestID], newValues: Dictionary(new, uniquingKeysWith: { a, _ in a })),
              discriminator: newText)
    }

    private mutating func sequence(_ i: Int, subject: Subject, record: RequestRecord?) {
        let rule = rules.rules[i]
        guard case .sequence(let s) = rule.kind, let e = subject.event, s.trigger.evaluate(subject, rules.calendars) else { return }
        var reason: String?
        if let d = record?.latestDecision(in: s.decisions, atOrBefore: e.ts) {
            if d.kind != s.mustBe {
                reason = "after its latest decision, \(d.kind) at \(d.ts.rfc3339)"
            } else if s.checkExpiry, let exp = d.expiresAt, exp < e.ts {
                reason = "after its \(d.kind) expired at \(exp.rfc3339)"
            }
        } else {
            reason = record?.request == nil ? "without any request or \(s.mustBe)" : "without any \(s.mustBe)"
        }
        guard let reason else { return }
        raise(i, subject: subject, ts: e.ts, actor: e.actor, requestID: e.requestID, vars: ["reason": reason],
              evidence: Evidence(requestIDs: [e.requestID]))
    }

    private mutating func fire(_ t: PendingTimer) {
        let hinted = t.ruleIndex >= 0 && t.ruleIndex < rules.rules.count && rules.rules[t.ruleIndex].id == t.rule
        guard let idx = hinted ? t.ruleIndex : rules.rules.firstIndex(where: { $0.id == t.rule }),
              case .absence(let a) = rules.rules[idx].kind else { return }
        let record = core.requests[t.requestID]
        if let record, record.hasDecision(in: a.expect, atOrBefore: t.deadline) { return }
        guard let start = record?.request else { return }
        let subject = Subject(event: start, request: start)
        let actor = start.namedRequester ?? start.actor
        raise(idx, subject: subject, ts: t.deadline, actor: actor, requestID: t.requestID,
              vars: ["within": a.within.description], evidence: Evidence(requestIDs: [t.requestID]))
    }

    // MARK: - Findings

    private mutating func raise(_ i: Int, subject: Subject, ts: Timestamp, actor: String, requestID: String?,
                                vars: [String: String], evidence: Evidence, discriminator: String = "") {
        let rule = rules.rules[i]
        if let sup = rule.suppression, let (_, key) = subject.groupKey(sup.by) {
            if let last = perRule[i].lastFired[key], ts < last + sup.span { return }
            perRule[i].lastFired[key] = ts
        }
        let actorKey = Identity.key(actor)
        let f = Finding(id: Finding.makeID(rule: rule.id, actorKey: actorKey, requestID: requestID, ts: ts, discriminator: discriminator),
                        rule: rule.id, severity: rule.severity, ts: ts, actor: actor, requestID: requestID,
                        summary: rule.summary.render(subject, vars), evidence: evidence)
        core.stats.findingsByRule[rule.id, default: 0] += 1
        emitted.append(f)
        if !findingThresholds.isEmpty && !rule.readsFindings {
            core.seq &+= 1
            core.findingQueue.push(QueuedFinding(finding: f, seq: core.seq))
        }
    }

    // MARK: - Memory

    /// Drops state no window needs any more, a 64th at a time.
    ///
    /// Each of the keyed tables' shards is swept once per `sweepInterval` of
    /// event time, in 64 phases of it (phase `k % 64`, the `k % 64`-th 64th
    /// of the shards, when the watermark passes `k · sweepInterval / 64`), so
    /// a sweep walks a 64th of the state. Walking all of it at once held the
    /// engine for 10–50 ms at 50,000–120,000 open requests
    /// (`scripts/bench-live`). A record still lives at least `retention` and
    /// at most `retention + sweepInterval` after its last event, as before;
    /// the phases depend on the watermark alone, so a resumed engine sweeps
    /// where the uninterrupted one did.
    private mutating func sweep(from last: Timestamp, to w: Timestamp) {
        let phases = Int64(Engine.sweepPhases)
        let step = max(1, sweepInterval.micros / phases)
        func phase(_ t: Timestamp) -> Int64 { t.micros >= 0 ? t.micros / step : -((-t.micros + step - 1) / step) }
        let first = phase(last) + 1, end = phase(w)
        guard end >= first else { return }
        // A jump past a whole interval sweeps every shard once.
        let perPhase = ShardedTable<RequestRecord>.shardCount / Engine.sweepPhases
        for k in max(first, end - phases + 1)...end {
            let p = Int(((k % phases) + phases) % phases)
            sweep(shards: p * perPhase ..< (p + 1) * perPhase, watermark: w)
        }
        core.lastSweep = w
    }

    /// Phases of the retention sweep (each walks `shardCount / sweepPhases` shards).
    static let sweepPhases = 64

    private mutating func sweep(shards: Range<Int>, watermark w: Timestamp) {
        let cutoff = w - retention
        for s in shards { core.requests.removeAll(inShard: s) { $1.lastTs <= cutoff } }
        for i in eventThresholds + findingThresholds {
            guard case .threshold(let t) = rules.rules[i].kind else { continue }
            for s in shards { perRule[i].windows.removeAll(inShard: s) { $1.newest.map { $0 <= w - t.window } ?? true } }
        }
        for (i, r) in rules.rules.enumerated() {
            guard let sup = r.suppression else { continue }
            for s in shards { perRule[i].lastFired.removeAll(inShard: s) { $1 + sup.span <= w } }
        }
    }

    // MARK: - Key ceiling

    /// Keeps every keyed table at or under `max_keys`: past it, the least
    /// recently active tenth is evicted, counted, and a `state_evicted` finding
    /// (at most one per hour of event time) makes the blind spot visible.
    private mutating func enforceKeyCeiling() {
        let limit = config.maxKeys
        var evicted: [(String, Int)] = []
        // Past the memory budget every table keeps the same, most recent, share.
        let estimate = estimatedStateBytes
        let budget = config.stateMemoryBudget
        let share = estimate > budget ? Double(budget) * 0.9 / Double(estimate) : 1.0
        // A little over the budget (a state that lives at its ceiling), each
        // check trims a sixty-fourth of the shards: selecting over whole
        // tables every few thousand events held the engine for tens of
        // milliseconds each time (40 s p99 32 ms in `scripts/bench-live` at
        // its ceiling). Far over it (a flood), whole tables at once, below.
        let nearBudget = estimate > budget && estimate <= budget + budget / 8
        if nearBudget {
            // A slice holds a sixty-fourth of each table: taking four times
            // the overshoot from it keeps up with a table that grows by up to
            // its 1/64 per check (one new key per event past 16,384 keys;
            // smaller tables take the whole-table path, cheap at their size).
            trimSlice(fraction: min(1, 4 * (1 - share)), into: &evicted)
        }
        func keep(_ count: Int) -> Int { min(count > limit ? limit * 9 / 10 : count, nearBudget ? count : Int(Double(count) * share)) }
        if keep(core.requests.count) < core.requests.count {
            evicted.append(("requests", Engine.evictOldest(&core.requests, keep: keep(core.requests.count)) { $0.lastTs }))
        }
        for i in perRule.indices {
            let id = rules.rules[i].id
            if keep(perRule[i].windows.count) < perRule[i].windows.count {
                evicted.append(("\(id) windows", Engine.evictOldest(&perRule[i].windows, keep: keep(perRule[i].windows.count)) { $0.newest ?? .distantPast }))
            }
            if keep(perRule[i].baselines.count) < perRule[i].baselines.count {
                evicted.append(("\(id) baselines", Engine.evictOldest(&perRule[i].baselines, keep: keep(perRule[i].baselines.count)) { $0.lastSeen }))
                baselineValueCounts[i] = Engine.valueCount(perRule[i].baselines)
            }
            if keep(perRule[i].lastFired.count) < perRule[i].lastFired.count {
                evicted.append(("\(id) suppressions", Engine.evictOldest(&perRule[i].lastFired, keep: keep(perRule[i].lastFired.count)) { $0 }))
            }
        }
        // Events waiting for the watermark count too: a flood stamped with one
        // time would otherwise wait there unbounded. Past half the budget the
        // oldest are processed early (before the watermark) and counted.
        let perEvent = 600 + core.meanRequestLine
        if core.reorder.count * perEvent > config.stateMemoryBudget / 2 {
            var released = 0
            while core.reorder.count * perEvent > config.stateMemoryBudget / 4, let p = core.reorder.pop() {
                release(p)
                released += 1
            }
            core.stats.releasedEarly += released
            evicted.append(("events released before the watermark", released))
        }
        guard let now = core.maxTs else { return }
        reportEvictions(evicted, at: now, ceiling: "max_keys \(limit)")
    }

    /// Removes the least recently active `fraction` of every keyed table's
    /// entries in one sixty-fourth of the shards, the next sixty-fourth at
    /// the next check (chosen by the event count, part of the state).
    private mutating func trimSlice(fraction: Double, into evicted: inout [(String, Int)]) {
        let perSlice = ShardedTable<RequestRecord>.shardCount / 64
        let first = (core.stats.events >> 8) % 64 * perSlice
        var requests = 0
        for s in first ..< first + perSlice { requests += core.requests.removeOldest(inShard: s, fraction: fraction) { $0.lastTs } }
        evicted.append(("requests", requests))
        for i in perRule.indices {
            let id = rules.rules[i].id
            var windows = 0, baselines = 0, fired = 0, values = 0
            for s in first ..< first + perSlice {
                windows += perRule[i].windows.removeOldest(inShard: s, fraction: fraction) { $0.newest ?? .distantPast }
                baselines += perRule[i].baselines.removeOldest(inShard: s, fraction: fraction, age: { $0.lastSeen },
                                                               removed: { values += $0.values.count })
                fired += perRule[i].lastFired.removeOldest(inShard: s, fraction: fraction) { $0 }
            }
            baselineValueCounts[i] -= values
            evicted += [("\(id) windows", windows), ("\(id) baselines", baselines), ("\(id) suppressions", fired)]
        }
    }

    /// Counts what was evicted and raises a `state_evicted` finding about it,
    /// at most one per hour of event time (all in the state, so a resumed
    /// engine reports as an uninterrupted one).
    private mutating func reportEvictions(_ list: [(String, Int)], at now: Timestamp, ceiling: String) {
        let evicted = list.filter { $0.1 > 0 }
        guard !evicted.isEmpty else { return }
        let n = evicted.reduce(0) { $0 + $1.1 }
        core.stats.evicted += n
        core.evictedSinceFinding += n
        if let last = core.lastEvictionFinding, now < last + .hours(1) { return }
        core.lastEvictionFinding = now
        let tables = evicted.map { "\($0.1) from \($0.0)" }.joined(separator: ", ")
        let f = Finding(id: Finding.makeID(rule: Engine.stateEvictedRule, actorKey: "jitaudit", requestID: nil, ts: now),
                        rule: Engine.stateEvictedRule, severity: .medium, ts: now, actor: "jitaudit", requestID: nil,
                        summary: "state evicted at the key ceiling (\(ceiling)): \(core.evictedSinceFinding) keys since the last notice (now \(tables)); detections may miss what those keys held",
                        evidence: Evidence())
        core.evictedSinceFinding = 0
        core.stats.findingsByRule[Engine.stateEvictedRule, default: 0] += 1
        emitted.append(f)
    }

    /// A conservative estimate of the memory the keyed state holds, from
    /// table sizes and per-entry costs measured with `scripts/bench-memory`.
    public var estimatedStateBytes: Int {
        var total = core.requests.count * (900 + core.meanRequestLine) + core.reorder.count * (600 + core.meanRequestLine)
        for (i, r) in perRule.enumerated() {
            // A value past a baseline's first few: its set entry and text.
            total += r.baselines.count * 400 + baselineValueCounts[i] * 100 + r.windows.count * 300 + r.lastFired.count * 120
        }
        return total
    }

    /// The value that would be at index `k` if `a` were sorted (`a` is reordered).
    /// Quickselect with pivots from a fixed pseudo-random sequence, falling back
    /// to a sort of the remaining range should it take too many rounds.
    static func select(_ a: inout [Int64], _ k: Int) -> Int64 {
        precondition(k >= 0 && k < a.count)
        var lo = 0, hi = a.count - 1
        var rng = SplitMix64(seed: UInt64(a.count))
        var rounds = 0
        while lo < hi {
            rounds += 1
            if rounds > 64 {
                a[lo...hi].sort()
                return a[k]
            }
            let pivot = a[lo + rng.below(hi - lo + 1)]
            // Three-way partition: [lo, lt) < pivot, [lt, gt] == pivot, (gt, hi] > pivot.
            var lt = lo, i = lo, gt = hi
            while i <= gt {
                if a[i] < pivot { a.swapAt(lt, i); lt += 1; i += 1 }
                else if a[i] > pivot { a.swapAt(i, gt); gt -= 1 }
                else { i += 1 }
            }
            if k < lt { hi = lt - 1 } else if k > gt { lo = gt + 1 } else { return pivot }
        }
        return a[k]
    }

    /// Rule id of the engine's own finding about evicted state.
    public static let stateEvictedRule = "state_evicted"

    /// Removes the least recently active entries until `keep` remain; returns how many went.
    static func evictOldest<V>(_ table: inout ShardedTable<V>, keep: Int, age: (V) -> Timestamp) -> Int {
        let excess = table.count - keep
        guard excess > 0 else { return 0 }
        var ages = table.values.map { age($0).micros }
        // The excess-th smallest age, by selection rather than a sort of all
        // (a sort of 120,000 ages held the engine ~10 ms at every eviction).
        let cutoff = Self.select(&ages, excess - 1)
        var victims: [String] = []
        victims.reserveCapacity(excess)
        for (k, v) in table where age(v).micros <= cutoff && victims.count < excess { victims.append(k) }
        for k in victims { table.removeValue(forKey: k) }
        return victims.count
    }
}
