/// A `String`-keyed table kept as 1,024 dictionaries, so that copying it
/// costs the engine a little at a time instead of all at once.
///
/// The daemon takes the engine's state for a snapshot by value while the
/// engine goes on (``Engine/state`` shares storage, copy-on-write). With one
/// dictionary per table, the first event after a snapshot copied the whole
/// table on the pipeline actor, during which no event was processed: 11.5–12 ms
/// for 150,000 requests (about what `scripts/bench-live` holds at 50,000
/// events/s; seen in its profile), and in proportion for the millions of keys
/// the key ceiling allows. Split, an event copies at most the one shard its
/// key falls in. With 64 shards a batch of 50 events still touched most of
/// them: the batch after a snapshot took 6–19 ms (traced at 50,000 events/s),
/// the largest part of the p99 event-to-finding latency; with 1,024 it takes
/// 3–5 ms, p99 5.5–6.0 → 4.4–4.9 ms (docs/bench-live.md, "Seventh round"), for
/// about 5 % more CPU in `replay`.
///
/// The shard is picked by a cheap unseeded hash of the key's bytes, not
/// `Hasher`, as the dictionary inside hashes the key again. Keys chosen to
/// fall in one shard only make the table behave as one dictionary.
struct ShardedTable<Value> {
    static var shardBits: Int { 10 }
    static var shardCount: Int { 1 << shardBits }
    private var shards: [[String: Value]] = Array(repeating: [:], count: Self.shardCount)
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    @inline(__always) static func shard(_ key: String) -> Int {
        var k = key
        return k.withUTF8 { b in
            // Every byte counts (ids share long prefixes and suffixes: "REQ-2026-…",
            // "…@example.com"), eight at a time, each word mixed by a multiplication.
            let n = b.count
            let raw = UnsafeRawBufferPointer(b)
            var h = UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15
            var i = 0
            while i &+ 8 <= n {
                h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xC2B2_AE3D_27D4_EB4F
                h ^= h &>> 29
                i &+= 8
            }
            var tail: UInt64 = 0
            while i < n { tail = tail &<< 8 | UInt64(b[i]); i &+= 1 }
            h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
            h ^= h &>> 32
            return Int(truncatingIfNeeded: h &>> UInt64(64 - shardBits))
        }
    }

    subscript(key: String) -> Value? {
        get { shards[Self.shard(key)][key] }
        set {
            let s = Self.shard(key)
            let before = shards[s].count
            shards[s][key] = newValue
            count += shards[s].count - before
        }
    }

    /// Runs `body` on the value of `key`, inserting `make()` first when there
    /// is none. (Not a `self[key, default:]` subscript: that accessor is a
    /// coroutine nesting the dictionary's, and its frame was allocated on the
    /// heap at every call; callgrind: one `swift_allocObject` per event and per table.)
    @inline(__always)
    mutating func withValue<R>(forKey key: String, default make: () -> Value, _ body: (inout Value) -> R) -> R {
        let s = Self.shard(key)
        let before = shards[s].count
        let r = body(&shards[s][key, default: make()])
        count += shards[s].count - before
        return r
    }

    @discardableResult
    mutating func removeValue(forKey key: String) -> Value? {
        let s = Self.shard(key)
        guard let v = shards[s].removeValue(forKey: key) else { return nil }
        count -= 1
        return v
    }

    /// Where a key's value is stored, valid until the table changes.
    struct Index {
        fileprivate var shard: Int
        fileprivate var slot: Dictionary<String, Value>.Index
    }

    func index(forKey key: String) -> Index? {
        let s = Self.shard(key)
        return shards[s].index(forKey: key).map { Index(shard: s, slot: $0) }
    }

    subscript(at i: Index) -> Value {
        get { shards[i.shard].values[i.slot] }
        _modify { yield &shards[i.shard].values[i.slot] }
    }

    mutating func removeAll(where drop: (String, Value) throws -> Bool) rethrows {
        for s in shards.indices { try removeAll(inShard: s, where: drop) }
    }

    /// Removes the entries of shard `s` that `drop` selects (no shard is
    /// rebuilt, and one with nothing to drop is not copied).
    mutating func removeAll(inShard s: Int, where drop: (String, Value) throws -> Bool) rethrows {
        var victims: [String] = []
        for (k, v) in shards[s] where try drop(k, v) { victims.append(k) }
        for k in victims { shards[s].removeValue(forKey: k) }
        count -= victims.count
    }

    /// Removes the `fraction` of shard `s`'s entries that are oldest by
    /// `age` (ties by key, so the choice depends on the entries alone);
    /// returns how many went. Touches one shard only.
    mutating func removeOldest(inShard s: Int, fraction: Double, age: (Value) -> Timestamp,
                               removed: (Value) -> Void = { _ in }) -> Int {
        let n = Int(Double(shards[s].count) * fraction)
        guard n > 0 else { return 0 }
        let victims = shards[s].map { (key: $0.key, age: age($0.value)) }
            .sorted { $0.age != $1.age ? $0.age < $1.age : $0.key < $1.key }
            .prefix(n)
        for v in victims { if let gone = shards[s].removeValue(forKey: v.key) { removed(gone) } }
        count -= victims.count
        return victims.count
    }

    /// Passes every entry to `body` a shard at a time, letting go of each
    /// shard once passed; the table is empty afterwards.
    ///
    /// For a snapshot's copy of the engine's table: a shard it no longer
    /// holds is the engine's alone again, which the engine then changes in
    /// place instead of copying it.
    mutating func drain(_ body: (String, Value) -> Void) {
        for s in shards.indices {
            let shard = shards[s]
            shards[s] = [:]
            for (k, v) in shard { body(k, v) }
        }
        count = 0
    }

    mutating func reserveCapacity(_ n: Int) {
        for s in shards.indices { shards[s].reserveCapacity(n / Self.shardCount + 1) }
    }

    var values: some Sequence<Value> { shards.lazy.flatMap(\.values) }
}

extension ShardedTable: Sequence {
    struct Iterator: IteratorProtocol {
        fileprivate let shards: [[String: Value]]
        fileprivate var shard = 0
        fileprivate var inner: Dictionary<String, Value>.Iterator?

        mutating func next() -> (key: String, value: Value)? {
            while true {
                if let e = inner?.next() { return e }
                guard shard < shards.count else { return nil }
                inner = shards[shard].makeIterator()
                shard += 1
            }
        }
    }

    func makeIterator() -> Iterator { Iterator(shards: shards) }

}

extension ShardedTable: Sendable where Value: Sendable {}

/// Encoded as one dictionary, as the tables were before they were split
/// (snapshots in the `json-v1` format hold them so).
extension ShardedTable: Codable where Value: Codable {
    init(from decoder: any Decoder) throws {
        let flat = try [String: Value](from: decoder)
        self.init()
        reserveCapacity(flat.count)
        for (k, v) in flat { self[k] = v }
    }

    func encode(to encoder: any Encoder) throws {
        var flat: [String: Value] = [:]
        flat.reserveCapacity(count)
        for (k, v) in self { flat[k] = v }
        try flat.encode(to: encoder)
    }
}

extension ShardedTable {
    /// The keys, in no particular order.
    var keys: Set<String> { Set(lazy.map(\.key)) }
}

/// Equal when they hold the same keys with equal values.
extension ShardedTable: Equatable where Value: Equatable {
    static func == (a: Self, b: Self) -> Bool {
        a.count == b.count && a.allSatisfy { b[$0.key] == $0.value }
    }
}

#if DEBUG
// Test-only: reads a dictionary's storage reference through its layout, so
// it stays out of release builds.
extension ShardedTable {
    /// Shards whose storage `other` shares (what a copy has not yet paid for).
    func sharedShards(with other: Self) -> Int {
        zip(shards, other.shards).filter { a, b in
            a.withStorageIdentity { x in b.withStorageIdentity { y in x == y } }
        }.count
    }

    /// Entries in the fullest shard.
    var largestShard: Int { shards.map(\.count).max() ?? 0 }

    /// The storage of the shard `key` falls in (changes when the shard is copied).
    func storageOfShard(of key: String) -> ObjectIdentifier? {
        shards[Self.shard(key)].withStorageIdentity { $0 }
    }
}

private extension Dictionary {
    /// An identity for the dictionary's storage (equal for copies that share it).
    func withStorageIdentity<R>(_ body: (ObjectIdentifier?) -> R) -> R {
        body(unsafeBitCast(self, to: AnyObject?.self).map(ObjectIdentifier.init))
    }
}
#endif
