/// Everything the engine knows between events. Codable so the store can
/// checkpoint it with the events and findings it goes with, and a restart
/// resumes exactly where the last checkpoint left off.
public struct EngineState: Codable, Sendable {
    /// Largest event time seen.
    public var maxTs: Timestamp?
    /// Event time up to which the stream is taken as complete.
    public var watermark: Timestamp = .distantPast
    /// Time of the first event ever processed; learning periods count from it.
    public var firstEventTs: Timestamp?
    var seq: UInt64 = 0
    var reorder = MinHeap<PendingEvent>()
    var timers = MinHeap<PendingTimer>()
    var findingQueue = MinHeap<QueuedFinding>()
    var requests = ShardedTable<RequestRecord>()
    /// Per rule id: windows, baselines and suppression. Kept by id so a reload
    /// keeps the state of the rules that did not change.
    var rules: [String: RuleState] = [:]
    /// The definition each rule's state was built under (see ``Rule/fingerprint``).
    var ruleFingerprints: [String: String] = [:]
    var lastSweep: Timestamp?
    /// Evictions not yet reported in a `state_evicted` finding, and when the last one was raised.
    var evictedSinceFinding = 0
    var lastEvictionFinding: Timestamp?
    /// Running mean length of request lines, for the memory estimate.
    var meanRequestLine = 400
    public var stats = EngineStats()

    public init() {}
}

/// Counters reported in summaries and status lines.
public struct EngineStats: Codable, Sendable, Equatable {
    public var events: Int = 0
    /// Events stamped before the watermark when they arrived.
    public var late: Int = 0
    public var findingsByRule: [String: Int] = [:]
    /// Keys dropped because a ceiling was reached.
    public var evicted: Int = 0
    /// Events processed before the watermark reached them because the reorder
    /// buffer hit the memory budget (their findings may differ from the sorted stream's).
    public var releasedEarly: Int = 0
    public init() {}
    public var findings: Int { findingsByRule.values.reduce(0, +) }
}

struct PendingEvent: HeapOrdered, Codable {
    var event: Event
    var seq: UInt64
    /// Match rules were already evaluated on arrival.
    var matched: Bool
    var heapOrder: HeapOrder { HeapOrder(ts: event.ts.micros, seq: seq) }
}

struct PendingTimer: HeapOrdered, Codable {
    var deadline: Timestamp
    var seq: UInt64
    var rule: String
    var requestID: String
    var start: Timestamp
    /// Index of `rule` in the rule set that set the timer: a hint checked
    /// against `rule` when it fires (a reload may reorder rules). Not stored.
    var ruleIndex = -1
    var heapOrder: HeapOrder { HeapOrder(ts: deadline.micros, seq: seq) }

    private enum CodingKeys: String, CodingKey { case deadline, seq, rule, requestID, start }
}

struct QueuedFinding: HeapOrdered, Codable {
    var finding: Finding
    var seq: UInt64
    var heapOrder: HeapOrder { HeapOrder(ts: finding.ts.micros, seq: seq) }
}

/// A sliding window of one group key.
struct WindowState: Codable, Sendable {
    struct Entry: Codable, Sendable {
        var ts: Timestamp
        /// Request id (event rules) or finding id (finding rules).
        var ref: String
        /// Rule id of a counted finding.
        var rule: String?
        /// Request id of a counted finding.
        var requestID: String?
    }
    var entries: [Entry] = []
    var head = 0
    var armed = true

    var count: Int { entries.count - head }
    var newest: Timestamp? { entries.last?.ts }

    /// Forgets entries at or before `cutoff`.
    mutating func expire(before cutoff: Timestamp) {
        while head < entries.count, entries[head].ts <= cutoff { head += 1 }
        if head > 32 && head * 2 > entries.count { entries.removeFirst(head); head = 0 }
    }

    mutating func append(_ e: Entry) {
        // Late arrivals are inserted in time order so expiry stays a prefix cut.
        var i = entries.count
        while i > head, entries[i - 1].ts > e.ts { i -= 1 }
        entries.insert(e, at: i)
    }

    var live: ArraySlice<Entry> { entries[head...] }
}

/// One rule's keyed state.
struct RuleState: Codable, Sendable {
    /// Threshold rules: the window of each group key.
    var windows = ShardedTable<WindowState>()
    /// First-seen rules: known values of each group key.
    var baselines = ShardedTable<Baseline>()
    /// Suppression: when each key last fired.
    var lastFired = ShardedTable<Timestamp>()
}

extension RuleState {
    /// About what ``BinaryWriter/drainRuleState(_:)`` writes for this state,
    /// so the encoder reserves its buffer once: growing it by doubling took
    /// twice the fresh memory, whose first touch is most of an encoding's time
    /// in a VM that backs guest memory lazily.
    var estimatedBinaryBytes: Int {
        windows.values.reduce(0) { $0 + 24 + $1.count * 40 } + lastFired.count * 24
            + baselines.values.reduce(0) { $0 + 24 + $1.values.count * 18 }
    }
}

/// Values seen for one group key of a first-seen rule.
struct Baseline: Codable, Sendable {
    var values = BaselineValues()
    var lastSeen: Timestamp

}

/// The known values of one baseline: a plain array while there are few (an
/// actor rarely has more than a few addresses and devices, and comparing a
/// few values costs less than hashing one: callgrind put the set's insert at
/// 400 instructions, run for every value of every approve), a set beyond
/// (hostile input may give one actor millions).
struct BaselineValues: Codable, Sendable, Sequence, Equatable {
    private var few: [BaselineValue] = []
    private var many: Set<BaselineValue>?
    /// Values kept in the array before it becomes a set.
    static let arrayLimit = 8

    init() {}

    var count: Int { many?.count ?? few.count }

    /// Adds `v` unless known, up to `limit` values. Past it nothing more is
    /// learned: `v` is `new` (not known) but not kept, so it reads as new
    /// again next time. Values learned first stay, and a flood of new values
    /// cannot push them out.
    mutating func insert(_ v: BaselineValue, limit: Int) -> (new: Bool, kept: Bool) {
        if count < limit { let r = insert(v).inserted; return (r, r) }
        return (!contains(v), false)
    }

    func contains(_ v: BaselineValue) -> Bool {
        if let many { return many.contains(v) }
        return few.contains(v)
    }

    /// Adds `v` unless known; `inserted` says whether it was new.
    @discardableResult
    mutating func insert(_ v: BaselineValue) -> (inserted: Bool, memberAfterInsert: BaselineValue) {
        if many != nil { return many!.insert(v) }
        if let known = few.first(where: { $0 == v }) { return (false, known) }
        if few.count < Self.arrayLimit {
            few.append(v)
        } else {
            many = Set(few + [v])
            few = []
        }
        return (true, v)
    }

    func makeIterator() -> IndexingIterator<[BaselineValue]> { (many.map(Array.init) ?? few).makeIterator() }

    /// Every value, without gathering a set's values in an array first.
    func forEachValue(_ body: (BaselineValue) -> Void) {
        if let many { for v in many { body(v) } } else { for v in few { body(v) } }
    }

    /// Set equality: the same values, in whatever order they were learned.
    static func == (a: Self, b: Self) -> Bool { Set(a) == Set(b) }

    // Encoded as the set it was before (snapshots in the `json-v1` format hold it so).
    init(from decoder: any Decoder) throws {
        for v in try Set<BaselineValue>(from: decoder) { insert(v) }
    }

    func encode(to encoder: any Encoder) throws {
        try Set(self).encode(to: encoder)
    }
}

/// A known value: addresses compare as addresses, other text as written.
enum BaselineValue: Hashable, Codable, Sendable {
    case ip(IPAddress)
    case text(field: String, value: String)

    // Hashes the value alone (equality still compares the field): one set
    // rarely holds one text under two fields, and this is hashed for every
    // value of every first-seen event.
    func hash(into h: inout Hasher) {
        switch self {
        case .ip(let a): h.combine(a)
        case .text(_, let v): h.combine(v)
        }
    }
}
