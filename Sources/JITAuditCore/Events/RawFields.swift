#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Schema v1 field names the decoder recognises.
enum Field: Int, CaseIterable {
    case ts, event, requestID, actor, requester, action, resource, environment, priority
    case justification, ticket, sourceIP, deviceID, userAgent, expiresAt, outcome, details

    var name: String {
        switch self {
        case .ts: "ts"
        case .event: "event"
        case .requestID: "request_id"
        case .actor: "actor"
        case .requester: "requester"
        case .action: "action"
        case .resource: "resource"
        case .environment: "environment"
        case .priority: "priority"
        case .justification: "justification"
        case .ticket: "ticket"
        case .sourceIP: "source_ip"
        case .deviceID: "device_id"
        case .userAgent: "user_agent"
        case .expiresAt: "expires_at"
        case .outcome: "outcome"
        case .details: "details"
        }
    }

    var bit: UInt32 { @inline(__always) get { 1 << UInt32(rawValue) } }

    static let byName: [String: Field] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })

    /// Bytes `start..<start+len` (2 ≤ len) as two words, from overlapping
    /// loads: for a given length, equal words mean equal bytes. Compares a
    /// key in two integer comparisons instead of a `memcmp` call.
    @inline(__always) static func words(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ len: Int) -> (UInt64, UInt64) {
        let b = UnsafeRawPointer(p.baseAddress! + start)
        if len >= 8 {
            return (b.loadUnaligned(as: UInt64.self), b.loadUnaligned(fromByteOffset: len - 8, as: UInt64.self))
        }
        if len >= 4 {
            return (UInt64(b.loadUnaligned(as: UInt32.self)) | UInt64(b.loadUnaligned(fromByteOffset: len - 4, as: UInt32.self)) << 32, 0)
        }
        return (UInt64(b.loadUnaligned(as: UInt16.self)) | UInt64(b.loadUnaligned(fromByteOffset: len - 2, as: UInt16.self)) << 16, 0)
    }

    static func lookup(_ name: String) -> Field? { byName[name] }

    /// The length of the field's name and its ``words(_:_:_:)``, as in ``lookup(_:_:_:)``.
    @inline(__always) var nameWords: (len: Int, words: (UInt64, UInt64)) {
        switch self {
        case .ts: (2, (0x0000000073747374, 0x0000000000000000))
        case .event: (5, (0x746e65766e657665, 0x0000000000000000))
        case .actor: (5, (0x726f74636f746361, 0x0000000000000000))
        case .action: (6, (0x6e6f697469746361, 0x0000000000000000))
        case .ticket: (6, (0x74656b636b636974, 0x0000000000000000))
        case .outcome: (7, (0x656d6f636374756f, 0x0000000000000000))
        case .details: (7, (0x736c696161746564, 0x0000000000000000))
        case .resource: (8, (0x656372756f736572, 0x656372756f736572))
        case .priority: (8, (0x797469726f697270, 0x797469726f697270))
        case .requester: (9, (0x6574736575716572, 0x7265747365757165))
        case .sourceIP: (9, (0x695f656372756f73, 0x70695f656372756f))
        case .deviceID: (9, (0x695f656369766564, 0x64695f6563697665))
        case .requestID: (10, (0x5f74736575716572, 0x64695f7473657571))
        case .userAgent: (10, (0x6567615f72657375, 0x746e6567615f7265))
        case .expiresAt: (10, (0x5f73657269707865, 0x74615f7365726970))
        case .environment: (11, (0x6d6e6f7269766e65, 0x746e656d6e6f7269))
        case .justification: (13, (0x636966697473756a, 0x6e6f697461636966))
        }
    }

    /// Looks a key up by its raw bytes without building a `String`:
    /// dispatch on length and first byte, then one comparison of two words.
    @inline(__always) static func lookup(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Field? {
        let len = end - start
        guard len >= 2, len <= 13 else { return nil }
        // Length and first byte pick the only candidate; its name's words (``nameWords``) confirm it.
        let f: Field
        switch (len, p[start]) {
        case (2, UInt8(ascii: "t")): f = .ts
        case (5, UInt8(ascii: "e")): f = .event
        case (5, UInt8(ascii: "a")): f = .actor
        case (6, UInt8(ascii: "a")): f = .action
        case (6, UInt8(ascii: "t")): f = .ticket
        case (7, UInt8(ascii: "o")): f = .outcome
        case (7, UInt8(ascii: "d")): f = .details
        case (8, UInt8(ascii: "r")): f = .resource
        case (8, UInt8(ascii: "p")): f = .priority
        case (9, UInt8(ascii: "r")): f = .requester
        case (9, UInt8(ascii: "s")): f = .sourceIP
        case (9, UInt8(ascii: "d")): f = .deviceID
        case (10, UInt8(ascii: "r")): f = .requestID
        case (10, UInt8(ascii: "u")): f = .userAgent
        case (10, UInt8(ascii: "e")): f = .expiresAt
        case (11, UInt8(ascii: "e")): f = .environment
        case (13, UInt8(ascii: "j")): f = .justification
        default: return nil
        }
        return words(p, start, len) == f.nameWords.words ? f : nil
    }
}

/// The schema fields found on a line, as spans into it, before validation.
struct RawFields {
    var seen: UInt32 = 0
    /// Inline, so decoding a line allocates nothing for its field table.
    var spans = InlineArray<17, JSONScanner.StringSpan>(repeating: .init(start: 0, end: 0, hasEscapes: false))
    let p: UnsafeBufferPointer<UInt8>

    init(p: UnsafeBufferPointer<UInt8>) { self.p = p }

    mutating func set(_ f: Field, _ span: JSONScanner.StringSpan) {
        spans[f.rawValue] = span
    }

    func has(_ f: Field) -> Bool { seen & f.bit != 0 }

    func string(_ f: Field) -> String? {
        guard has(f) else { return nil }
        return JSONScanner(p: p, maxDepth: 0).decode(spans[f.rawValue])
    }

    func withBytes<R>(_ f: Field, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let s = spans[f.rawValue]
        if s.hasEscapes, let text = string(f) {
            var t = text
            return t.withUTF8(body)
        }
        return body(UnsafeBufferPointer(rebasing: p[s.start..<s.end]))
    }

    func require(_ f: Field) throws(Rejection) {
        guard has(f) else { throw Rejection(.missingField, "missing required field \"\(f.name)\"") }
    }

    /// An enum field, matched on its bytes against the case names (no
    /// `String` is built unless the value is rejected).
    func enumValue<T: CaseIterable & CustomStringConvertible>(_ f: Field, _: T.Type) throws(Rejection) -> T? {
        guard has(f) else { return nil }
        let s = spans[f.rawValue]
        if !s.hasEscapes {
            let n = s.end - s.start
            for c in T.allCases {
                var name = c.description
                let same = name.withUTF8 { u in u.count == n && memcmp(u.baseAddress!, p.baseAddress! + s.start, n) == 0 }
                if same { return c }
            }
        } else if let text = string(f), let c = T.allCases.first(where: { $0.description == text }) {
            return c
        }
        let allowed = T.allCases.map(\.description).joined(separator: ", ")
        throw Rejection(.badValue, "field \"\(f.name)\": expected one of \(allowed), got \(quoted(string(f) ?? ""))")
    }

    func timestamp(_ f: Field) throws(Rejection) -> Timestamp? {
        guard has(f) else { return nil }
        guard let t = withBytes(f, { RFC3339.parse($0) }) else {
            throw Rejection(.badValue, "field \"\(f.name)\": expected an RFC 3339 timestamp with offset, got \(quoted(string(f) ?? ""))")
        }
        return t
    }

    func identifier(_ f: Field, maxBytes: Int) throws(Rejection) -> String {
        try require(f)
        let span = spans[f.rawValue]
        if !span.hasEscapes, span.end - span.start <= maxBytes, span.end > span.start {
            // Fast path on the bytes: a first byte that is printable ASCII and not a space means not blank.
            let first = p[span.start]
            if first > 32 && first < 127 { return String(decoding: UnsafeBufferPointer(rebasing: p[span.start..<span.end]), as: UTF8.self) }
        }
        let s = string(f)!
        if s.utf8.count > maxBytes {
            throw Rejection(.badValue, "field \"\(f.name)\": longer than \(maxBytes) bytes (\(s.utf8.count))")
        }
        // Fast path: a first byte that is printable ASCII and not a space means not blank.
        let first = s.utf8.first ?? 32
        if !(first > 32 && first < 127) && s.trimmingWhitespace.isEmpty {
            throw Rejection(.badValue, "field \"\(f.name)\": must not be empty or blank")
        }
        return s
    }

    mutating func makeEvent(maxIdentifierBytes: Int) throws(Rejection) -> Event {
        try require(.ts)
        try require(.event)
        let ts = try timestamp(.ts)!
        let kind = try enumValue(.event, EventKind.self)!
        let requestID = try identifier(.requestID, maxBytes: maxIdentifierBytes)
        let actor = try identifier(.actor, maxBytes: maxIdentifierBytes)
        var requester: String?
        if has(.requester) { requester = try identifier(.requester, maxBytes: maxIdentifierBytes) }
        let priority = try enumValue(.priority, Priority.self)
        let outcome = try enumValue(.outcome, Outcome.self)
        let expiresAt = try timestamp(.expiresAt)
        var sourceIP: IPAddress?
        if has(.sourceIP) {
            guard let ip = withBytes(.sourceIP, { IPAddress.parse($0) }) else {
                throw Rejection(.badValue, "field \"source_ip\": expected an IPv4 or IPv6 address, got \(quoted(string(.sourceIP) ?? ""))")
            }
            sourceIP = ip
        }
        var lazy = Event.LazyFields()
        if has(.action) { lazy[.action] = spans[Field.action.rawValue] }
        if has(.resource) { lazy[.resource] = spans[Field.resource.rawValue] }
        if has(.environment) { lazy[.environment] = spans[Field.environment.rawValue] }
        if has(.justification) { lazy[.justification] = spans[Field.justification.rawValue] }
        if has(.ticket) { lazy[.ticket] = spans[Field.ticket.rawValue] }
        if has(.userAgent) { lazy[.userAgent] = spans[Field.userAgent.rawValue] }
        let e = Event(ts: ts, kind: kind, requestID: requestID, actor: actor, requester: requester, priority: priority,
                      sourceIP: sourceIP, deviceID: string(.deviceID), expiresAt: expiresAt, outcome: outcome,
                      raw: Array(p), lazy: lazy)
        return e
    }
}

/// A value quoted for an error message, cut and escaped so hostile input stays one readable line.
func quoted(_ s: String, limit: Int = 64) -> String {
    var out = "\""
    for (n, scalar) in s.unicodeScalars.enumerated() {
        if n >= limit { out += "…"; break }
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F || (scalar.value >= 0x80 && scalar.value < 0xA0):
            out += "\\u{\(String(scalar.value, radix: 16))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
