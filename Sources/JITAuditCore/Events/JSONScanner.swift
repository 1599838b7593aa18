/// The byte-level JSON scanner behind ``LineDecoder``.
///
/// Validates RFC 8259 grammar and UTF-8 as it goes, so a line is either fully
/// valid or rejected with the first problem found.
struct JSONScanner {
    let p: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0

    init(p: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.p = p
        self.maxDepth = maxDepth
    }

    @inline(__always) mutating func skipWhitespace() {
        while i < p.count {
            let c = p[i]
            if c == 32 || c == 9 || c == 10 || c == 13 { i += 1 } else { break }
        }
    }

    /// Scans the top-level object, collecting schema fields. Each key is
    /// checked first against the field the previous line had at that
    /// position (`order`, updated to this line's):
    /// a producer writes its fields in one order, and comparing a key's bytes
    /// with the expected name costs less than scanning it as a string and
    /// looking it up. A key that differs is scanned as usual, so the result
    /// and every rejection are the same either way.
    mutating func scanObject(order: inout KeyOrder) throws(Rejection) -> RawFields {
        skipWhitespace()
        guard i < p.count else { throw Rejection(.notJSON, "empty line") }
        guard p[i] == UInt8(ascii: "{") else {
            // Tell "valid JSON, but not an object" from "not JSON at all".
            let what = valueTypeName(at: i)
            let at = i
            var probe = self
            var valid = false
            do throws(Rejection) {
                try probe.skipValue(depth: 1)
                probe.skipWhitespace()
                valid = probe.i == p.count
            } catch {}
            if valid { throw Rejection(.notObject, "expected a JSON object, got \(what)") }
            throw Rejection(.notJSON, "not JSON: unexpected \(describeByte(at: at)) at column \(at + 1)")
        }
        i += 1
        var fields = RawFields(p: p)
        skipWhitespace()
        if i < p.count, p[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            var position = 0
            // Fields the schema does not know are kept in the raw line; a
            // repeat of one is rejected like a repeat of a known field (which
            // would a consumer of the line believe?). Spans, compared when a
            // second one comes: no allocation for lines with one or none.
            var firstUnknown: StringSpan?
            var moreUnknown: [StringSpan] = []
            // Past a few, a set: a hostile line of 10,000 fields stays linear.
            var unknownNames: Set<[UInt8]>?
            while true {
                skipWhitespace()
                guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw syntax("expected a field name") }
                let field: Field?
                var unknownKey: StringSpan?
                if let expected = order.field(at: position), let end = keyEnd(if: expected) {
                    field = expected
                    i = end
                } else {
                    let key = try scanString()
                    field = key.hasEscapes ? Field.lookup(decode(key)) : Field.lookup(p, key.start, key.end)
                    if field == nil { unknownKey = key }
                }
                if let key = unknownKey {
                    if unknownNames != nil {
                        if !unknownNames!.insert(keyBytes(key)).inserted {
                            throw Rejection(.duplicateField, "field \(quoted(decode(key))) appears twice")
                        }
                    } else if let first = firstUnknown {
                        if sameKey(first, key) || moreUnknown.contains(where: { sameKey($0, key) }) {
                            throw Rejection(.duplicateField, "field \(quoted(decode(key))) appears twice")
                        }
                        moreUnknown.append(key)
                        if moreUnknown.count >= 8 {
                            unknownNames = Set(([first] + moreUnknown).map(keyBytes))
                        }
                    } else {
                        firstUnknown = key
                    }
                }
                order.record(field, at: position)
                position += 1
                skipWhitespace()
                guard i < p.count, p[i] == UInt8(ascii: ":") else { throw syntax("expected ':' after field name") }
                i += 1
                skipWhitespace()
                guard i < p.count else { throw syntax("expected a value") }
                if let field {
                    if fields.seen & field.bit != 0 { throw Rejection(.duplicateField, "field \"\(field.name)\" appears twice") }
                    fields.seen |= field.bit
                    if field == .details {
                        // SPEC §1: null is no field's value, `details` included.
                        if p[i] == UInt8(ascii: "n") {
                            throw Rejection(.wrongType, "field \"details\": expected a JSON value other than null, got null")
                        }
                        try skipValue(depth: 1)
                    } else {
                        guard p[i] == UInt8(ascii: "\"") else {
                            let got = valueTypeName(at: i)
                            if got == "invalid JSON" { throw syntax("invalid value") }
                            throw Rejection(.wrongType, "field \"\(field.name)\": expected a string, got \(got)")
                        }
                        let s = try scanString()
                        fields.set(field, s)
                    }
                } else {
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                guard i < p.count else { throw syntax("unterminated object") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "}") { i += 1; break }
                throw syntax("expected ',' or '}'")
            }
        }
        skipWhitespace()
        if i != p.count { throw syntax("unexpected characters after the object") }
        return fields
    }

    /// A key's name, unescaped.
    func keyBytes(_ k: StringSpan) -> [UInt8] { k.hasEscapes ? Array(decode(k).utf8) : Array(p[k.start..<k.end]) }

    /// Whether two keys are the same name once unescaped (byte for byte:
    /// JSON does not normalise).
    func sameKey(_ a: StringSpan, _ b: StringSpan) -> Bool {
        if !a.hasEscapes && !b.hasEscapes {
            return a.end - a.start == b.end - b.start && p[a.start..<a.end].elementsEqual(p[b.start..<b.end])
        }
        return decode(a).utf8.elementsEqual(decode(b).utf8)
    }

    /// Where the key at `i` (its opening quote) ends when it is exactly
    /// `"name"` of `f`: the index after its closing quote.
    @inline(__always) func keyEnd(if f: Field) -> Int? {
        let (len, want) = f.nameWords
        let start = i + 1, close = start + len
        guard close < p.count, p[close] == UInt8(ascii: "\"") else { return nil }
        let got = Field.words(p, start, len)
        return got == want ? close + 1 : nil
    }

    func syntax(_ what: String) -> Rejection {
        Rejection(.notJSON, "not JSON: \(what) at column \(i + 1)\(i < p.count ? ", found \(describeByte(at: i))" : "")")
    }

    func describeByte(at k: Int) -> String {
        let c = p[k]
        if c >= 33 && c < 127 { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + String(c, radix: 16)
    }

    func valueTypeName(at k: Int) -> String {
        switch p[k] {
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), 48...57: return "a number"
        default: return "invalid JSON"
        }
    }

    /// A string's content bytes `p[start..<end]` (without quotes).
    ///
    /// Offsets are stored in 32 bits (lines are capped far below 4 GiB) so the
    /// field table a line is decoded into stays small enough to pass around cheaply.
    struct StringSpan: Sendable {
        private var start32: UInt32
        private var end32: UInt32
        var hasEscapes: Bool

        init(start: Int, end: Int, hasEscapes: Bool) {
            start32 = UInt32(start)
            end32 = UInt32(end)
            self.hasEscapes = hasEscapes
        }

        var start: Int { Int(start32) }
        var end: Int { Int(end32) }
    }

    /// Scans a string starting at the opening quote, validating escapes and UTF-8.
    mutating func scanString() throws(Rejection) -> StringSpan {
        i += 1
        let start = i
        var escapes = false
        let n = p.count
        while i < n {
            // Most string bytes are plain ASCII: skip them eight at a time, up
            // to the first byte that is a quote, a backslash, a control
            // character or non-ASCII (SWAR zero-byte tests), which the byte
            // loop below then handles.
            if let base = p.baseAddress {
                let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                while i &+ 8 <= n {
                    let w = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                    let quote = w ^ (ones &* 0x22), backslash = w ^ (ones &* 0x5C)
                    let special = (quote &- ones) | (backslash &- ones) | (w &- ones &* 0x20) | w
                    let hits = special & highs
                    // Borrows only run upwards, so the lowest hit is exact: jump to it.
                    if hits != 0 { i &+= hits.trailingZeroBitCount &>> 3; break }
                    i &+= 8
                }
                guard i < n else { break }
            }
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                let span = StringSpan(start: start, end: i, hasEscapes: escapes)
                i += 1
                return span
            }
            if c == UInt8(ascii: "\\") {
                escapes = true
                i += 1
                guard i < n else { break }
                switch p[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    let u = try hex4(at: i + 1)
                    i += 5
                    if u >= 0xD800 && u <= 0xDBFF {
                        guard i + 1 < n, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                            throw Rejection(.notJSON, "not JSON: unpaired UTF-16 surrogate \\u\(String(u, radix: 16)) at column \(i - 5)")
                        }
                        let lo = try hex4(at: i + 2)
                        guard lo >= 0xDC00 && lo <= 0xDFFF else {
                            throw Rejection(.notJSON, "not JSON: unpaired UTF-16 surrogate \\u\(String(u, radix: 16)) at column \(i - 5)")
                        }
                        i += 6
                    } else if u >= 0xDC00 && u <= 0xDFFF {
                        throw Rejection(.notJSON, "not JSON: unpaired UTF-16 surrogate \\u\(String(u, radix: 16)) at column \(i - 5)")
                    }
                default:
                    throw Rejection(.notJSON, "not JSON: invalid escape '\\\(describeByte(at: i))' at column \(i)")
                }
                continue
            }
            if c < 0x20 {
                throw Rejection(.notJSON, "not JSON: unescaped control character 0x\(String(c, radix: 16)) in a string at column \(i + 1)")
            }
            if c < 0x80 { i += 1; continue }
            try skipUTF8Sequence()
        }
        throw Rejection(.notJSON, "not JSON: unterminated string starting at column \(start)")
    }

    @inline(__always) mutating func skipUTF8Sequence() throws(Rejection) {
        let c = p[i]
        let n = p.count
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            k < n && p[k] >= lo && p[k] <= hi
        }
        var len = 0
        switch c {
        case 0xC2...0xDF: len = cont(i + 1) ? 2 : 0
        case 0xE0: len = cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: len = cont(i + 1) && cont(i + 2) ? 3 : 0
        case 0xED: len = cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0
        case 0xF0: len = cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF1...0xF3: len = cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF4: len = cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0
        default: len = 0
        }
        guard len > 0 else { throw Rejection(.invalidUTF8, "invalid UTF-8 at byte \(i + 1)") }
        i += len
    }

    func hex4(at k: Int) throws(Rejection) -> UInt32 {
        guard k + 4 <= p.count else { throw Rejection(.notJSON, "not JSON: truncated \\u escape at column \(k)") }
        var v: UInt32 = 0
        for j in k..<(k + 4) {
            guard let h = IPAddress.hexValue(p[j]) else { throw Rejection(.notJSON, "not JSON: invalid \\u escape at column \(k)") }
            v = v << 4 | UInt32(h)
        }
        return v
    }

    /// The decoded text of a scanned string span.
    func decode(_ s: StringSpan) -> String {
        let slice = UnsafeBufferPointer(rebasing: p[s.start..<s.end])
        if !s.hasEscapes { return String(decoding: slice, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(slice.count)
        var k = 0
        func push(_ scalar: UInt32) {
            if scalar < 0x80 { out.append(UInt8(scalar)) }
            else if scalar < 0x800 { out.append(UInt8(0xC0 | scalar >> 6)); out.append(UInt8(0x80 | scalar & 0x3F)) }
            else if scalar < 0x10000 {
                out.append(UInt8(0xE0 | scalar >> 12)); out.append(UInt8(0x80 | scalar >> 6 & 0x3F)); out.append(UInt8(0x80 | scalar & 0x3F))
            } else {
                out.append(UInt8(0xF0 | scalar >> 18)); out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
                out.append(UInt8(0x80 | scalar >> 6 & 0x3F)); out.append(UInt8(0x80 | scalar & 0x3F))
            }
        }
        func hex(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for j in at..<(at + 4) { v = v << 4 | UInt32(IPAddress.hexValue(slice[j]) ?? 0) }
            return v
        }
        while k < slice.count {
            let c = slice[k]
            guard c == UInt8(ascii: "\\") else { out.append(c); k += 1; continue }
            let e = slice[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var u = hex(k)
                k += 4
                if u >= 0xD800 && u <= 0xDBFF {
                    let lo = hex(k + 2)
                    k += 6
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                }
                push(u)
            default: out.append(e)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Validates and skips any JSON value.
    mutating func skipValue(depth: Int) throws(Rejection) {
        guard i < p.count else { throw syntax("expected a value") }
        switch p[i] {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth <= maxDepth else {
                throw Rejection(.tooDeep, "value nested deeper than \(maxDepth) levels at column \(i + 1)")
            }
            let isObject = p[i] == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            skipWhitespace()
            if i < p.count, p[i] == close { i += 1; return }
            while true {
                skipWhitespace()
                if isObject {
                    guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw syntax("expected a field name") }
                    _ = try scanString()
                    skipWhitespace()
                    guard i < p.count, p[i] == UInt8(ascii: ":") else { throw syntax("expected ':'") }
                    i += 1
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard i < p.count else { throw syntax("unterminated \(isObject ? "object" : "array")") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == close { i += 1; return }
                throw syntax("expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), 48...57: try skipNumber()
        default: throw syntax("invalid value")
        }
    }

    mutating func literal(_ word: StaticString) throws(Rejection) {
        let n = word.utf8CodeUnitCount
        guard i + n <= p.count else { throw syntax("invalid literal") }
        let w = word.utf8Start
        for k in 0..<n where p[i + k] != w[k] { throw syntax("invalid literal") }
        i += n
    }

    mutating func skipNumber() throws(Rejection) {
        let n = p.count
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n, p[i] >= 48, p[i] <= 57 else { throw syntax("invalid number") }
        if p[i] == 48 { i += 1 } else { while i < n, p[i] >= 48, p[i] <= 57 { i += 1 } }
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            guard i < n, p[i] >= 48, p[i] <= 57 else { throw syntax("invalid number") }
            while i < n, p[i] >= 48, p[i] <= 57 { i += 1 }
        }
        if i < n, p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            i += 1
            if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n, p[i] >= 48, p[i] <= 57 else { throw syntax("invalid number") }
            while i < n, p[i] >= 48, p[i] <= 57 { i += 1 }
        }
    }
}

/// The schema field at each key position of the last line decoded (see
/// ``JSONScanner/scanObject(order:)``): 32 positions, a byte each (0: none
/// or not a schema field), kept in a value so a decoder stays `Sendable`.
struct KeyOrder: Sendable {
    private var slots = SIMD32<UInt8>()

    @inline(__always) func field(at k: Int) -> Field? {
        guard k < 32, slots[k] != 0 else { return nil }
        return Field(rawValue: Int(slots[k]) - 1)
    }

    @inline(__always) mutating func record(_ f: Field?, at k: Int) {
        guard k < 32 else { return }
        slots[k] = f.map { UInt8($0.rawValue + 1) } ?? 0
    }
}
