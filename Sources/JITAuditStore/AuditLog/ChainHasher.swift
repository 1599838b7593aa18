import Crypto

/// The audit log's hash chain, format v1.
///
/// Each row's `hash` is SHA-256 over the previous row's hash followed by the
/// row's stored columns in a fixed order, each encoded unambiguously:
/// `0x00` for NULL, `0x01` + 8-byte big-endian for an integer, `0x02` +
/// 4-byte big-endian length + bytes for text. The first row chains from 32
/// zero bytes; after pruning, from the anchor kept in the `chain` table.
/// Column order: seq, ts, event, request_id, actor, actor_key, requester,
/// priority, source_ip, device_id, peer_pid, peer_uid, peer_gid, source (the
/// path, not its id), line, offset, received_at, raw.
struct ChainHasher {
    static let zero = [UInt8](repeating: 0, count: 32)
    /// The canonical bytes of the row being hashed. The writer binds its text
    /// columns straight out of it, so each value is copied once.
    private(set) var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1024) }

    mutating func begin(previous: [UInt8]) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: previous)
    }

    mutating func null() { buffer.append(0) }

    mutating func int(_ v: Int64) {
        buffer.append(1)
        let u = UInt64(bitPattern: v)
        for shift in stride(from: 56, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: u >> UInt64(shift))) }
    }

    mutating func int(_ v: Int64?) { if let v { int(v) } else { null() } }

    /// Adds text; returns where its bytes are in ``buffer``.
    @discardableResult
    mutating func text(_ p: UnsafeRawBufferPointer) -> Range<Int> {
        buffer.append(2)
        let n = UInt32(p.count)
        buffer.append(UInt8(n >> 24)); buffer.append(UInt8((n >> 16) & 0xFF)); buffer.append(UInt8((n >> 8) & 0xFF)); buffer.append(UInt8(n & 0xFF))
        let start = buffer.count
        buffer.append(contentsOf: p)
        return start..<buffer.count
    }

    /// Adds text or NULL; returns where the text's bytes are in ``buffer`` (nil for NULL).
    @discardableResult
    mutating func text(_ s: String?) -> Range<Int>? {
        guard var str = s else { null(); return nil }
        return str.withUTF8 { text(UnsafeRawBufferPointer($0)) }
    }

    @discardableResult
    mutating func text(_ bytes: [UInt8]) -> Range<Int> { bytes.withUnsafeBytes { text($0) } }

    /// SHA-256 of everything added since `begin`.
    func digest() -> [UInt8] {
        buffer.withUnsafeBytes { Array(SHA256.hash(data: $0)) }
    }
}

/// Hex spelling of a hash, for messages.
func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}
