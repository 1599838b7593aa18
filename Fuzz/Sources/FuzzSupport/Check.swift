#if canImport(Glibc)
import Glibc
#endif

/// A broken invariant: prints what and why, then traps so libFuzzer keeps the
/// input as a crash artifact (scripts/fuzz turns it into a regression fixture).
public func require(_ condition: Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #fileID, line: UInt = #line) {
    if condition { return }
    let text = "\n*** invariant broken at \(file):\(line): \(message())\n"
    text.utf8CString.withUnsafeBufferPointer { p in _ = Glibc.write(2, p.baseAddress!, p.count - 1) }
    abort()
}

/// The bytes as text for a failure message, control characters escaped, cut at 400 bytes.
public func shown<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var out = ""
    for b in bytes.prefix(400) {
        switch b {
        case 0x20..<0x7F where b != UInt8(ascii: "\\"): out.unicodeScalars.append(Unicode.Scalar(b))
        default: out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
    }
    return bytes.count > 400 ? out + "…(\(bytes.count) bytes)" : out
}

/// A small deterministic PRNG (SplitMix64) for choices derived from the input.
public struct SplitMix64 {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}

/// FNV-1a over the bytes, to seed choices from the input itself.
public func fnv1a(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in p { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}
