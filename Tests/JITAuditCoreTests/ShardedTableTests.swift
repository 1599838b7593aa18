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
