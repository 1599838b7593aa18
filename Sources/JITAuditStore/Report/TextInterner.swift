import CSQLite

/// Small integer ids for the few distinct texts (people, environments,
/// priorities) of millions of request rows, looked up from a column's bytes
/// without making a String per row: the report's per-request pass hashes
/// bytes and compares them with the stored name, and makes a String only for
/// a text it has not seen.
final class TextInterner {
    private(set) var names: [String] = []
    private var bytes: [[UInt8]] = []
    private var slots: [UInt64: Int32] = [:]

    /// The id of a text column of the current row of `st`, or -1 for NULL.
    func id(_ st: Statement, _ c: Int32) -> Int32 {
        guard let p = sqlite3_column_text(st.stmt, c) else { return -1 }
        let n = Int(sqlite3_column_bytes(st.stmt, c))
        return id(UnsafeBufferPointer(start: p, count: n))
    }

    func id(_ s: String) -> Int32 {
        var s = s
        return s.withUTF8 { id($0) }
    }

    func name(_ id: Int32) -> String? { id < 0 ? nil : names[Int(id)] }

    private func id(_ b: UnsafeBufferPointer<UInt8>) -> Int32 {
        // FNV-1a, then linear probing over the hash values on a (rare) collision.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        while let k = slots[h] {
            if bytes[Int(k)].elementsEqual(b) { return k }
            h &+= 1
        }
        let k = Int32(names.count)
        slots[h] = k
        bytes.append(Array(b))
        names.append(String(decoding: b, as: UTF8.self))
        return k
    }
}
