import Foundation
import Testing
@testable import JITAuditCore

@Suite("Sharded tables")
struct ShardedTableTests {
    /// Every operation the engine uses agrees with a plain dictionary, over random keys and edits.
    @Test func behavesAsADictionary() {
        var rng = SplitMix64(seed: 17)
        var table = ShardedTable<Int>()
        var model: [String: Int] = [:]
        for step in 0..<20_000 {
            let key = rng.below(3) == 0 ? "req-\(String(rng.next(), radix: 16))" : "user\(rng.below(500))"
            switch rng.below(5) {
            case 0: table[key] = step; model[key] = step
            case 1: #expect(table.removeValue(forKey: key) == model.removeValue(forKey: key))
            case 2: table.withValue(forKey: key, default: { 0 }) { $0 += 1 }; model[key, default: 0] += 1
            case 3:
                if let i = table.index(forKey: key) {
                    table[at: i] -= 1
                    model[key]! -= 1
                } else {
                    #expect(model[key] == nil)
                }
            default: #expect(table[key] == model[key])
            }
            #expect(table.count == model.count)
        }
        #expect(Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0.value) }) == model)
        table.removeAll { _, v in v % 2 == 0 }
        model = model.filter { $0.value % 2 != 0 }
        #expect(table.count == model.count && table.keys == Set(model.keys))
        #expect(table.values.reduce(0, +) == model.values.reduce(0, +))
    }

    /// The point of the split: after a copy (a snapshot) is taken, changing one
    /// key copies only that key's shard, not the whole table.
    @Test func aWriteAfterACopyCopiesOneShard() {
        var table = ShardedTable<Int>()
        for i in 0..<64_000 { table["req-\(i)"] = i }
        let snapshot = table
        table["req-5"] = -1
        #expect(snapshot["req-5"] == 5 && table["req-5"] == -1)
        // Every other shard still shares storage with the snapshot.
        let shared = table.sharedShards(with: snapshot)
        #expect(shared == ShardedTable<Int>.shardCount - 1)
        // Keys spread over the shards: none holds more than a few times its share.
        #expect(table.largestShard < 4 * 64_000 / ShardedTable<Int>.shardCount)
    }

    /// A snapshot's copy drained shard by shard (the daemon's encoder) lets
    /// go of each shard as it goes: the table then changes a shard already
    /// drained in place, and copies one not drained yet. Every entry is
    /// passed once, the copy ends empty, and the table keeps everything.
    @Test func drainingACopyLetsGoOfEachShardInTurn() {
        var table = ShardedTable<Int>()
        for i in 0..<20_000 { table["req-\(i)"] = i }
        var keyInShard: [Int: String] = [:]
        for i in 0..<20_000 where keyInShard[ShardedTable<Int>.shard("req-\(i)")] == nil {
            keyInShard[ShardedTable<Int>.shard("req-\(i)")] = "req-\(i)"
        }
        /// Sets `key` to its own value; whether its shard kept its storage.
        func changedInPlace(_ key: String) -> Bool {
            let before = table.storageOfShard(of: key)
            table[key] = table[key]
            return table.storageOfShard(of: key) == before
        }
        var snapshot = table
        var passed = 0, sum = 0, current = -1, inPlace = 0, copied = 0, checked = 0
        snapshot.drain { key, value in
            passed += 1
            sum += value
            let s = ShardedTable<Int>.shard(key)
            guard s != current else { return }
            current = s
            // Only every 16th shard, to leave most shards untouched before their turn.
            guard s % 16 == 8 else { return }
            checked += 1
            if let done = keyInShard[s - 8], changedInPlace(done) { inPlace += 1 }
            if let next = keyInShard[s + 4], !changedInPlace(next) { copied += 1 }
        }
        #expect(checked > 50)
        #expect(inPlace == checked, "a shard the copy let go of was still shared")
        #expect(copied == checked, "a shard the copy still held was changed in place")
        #expect(passed == 20_000 && sum == (0..<20_000).reduce(0, +))
        #expect(snapshot.isEmpty && snapshot.map(\.key).isEmpty)
        #expect(table.count == 20_000 && table["req-19999"] == 19_999)
    }

    /// Request ids and identities of the usual shapes spread over the shards
    /// (no shard holds more than a few times its share): a batch after a
    /// snapshot then copies small shards only.
    @Test func keysOfCommonShapesSpreadOverTheShards() {
        var rng = SplitMix64(seed: 7)
        let shapes: [(String, (Int) -> String)] = [
            ("counter", { "REQ-2026-\(String(format: "%06d", $0))" }),
            ("decimal", { "\($0)" }),
            ("hex", { _ in "req-" + String(rng.next() & 0xFFFF_FFFF_FFFF, radix: 16) }),
            ("uuid", { _ in UUID().uuidString.lowercased() }),
            ("identity", { "user\($0 % 5_000).team\($0 / 5_000)@example.com" }),
        ]
        let n = 64_000
        for (name, make) in shapes {
            var counts = [Int](repeating: 0, count: ShardedTable<Int>.shardCount)
            for i in 0..<n { counts[ShardedTable<Int>.shard(make(i))] += 1 }
            #expect(counts.max()! < 4 * n / counts.count, "\(name): largest shard \(counts.max()!) of \(n) keys")
            #expect(counts.filter { $0 == 0 }.count < counts.count / 50, "\(name): \(counts.filter { $0 == 0 }.count) empty shards")
        }
    }

    /// Snapshots of the JSON format (json-v1) hold each table as one object.
    @Test func codesAsOneDictionary() throws {
        var table = ShardedTable<Int>()
        for i in 0..<300 { table["k\(i)"] = i }
        let data = try JSONEncoder().encode(table)
        let flat = try JSONDecoder().decode([String: Int].self, from: data)
        #expect(flat.count == 300 && flat["k7"] == 7)
        let back = try JSONDecoder().decode(ShardedTable<Int>.self, from: JSONEncoder().encode(flat))
        #expect(back == table)
    }
}
