/// Writes an ``Event`` back as one canonical schema-v1 JSON line.
///
/// The line is built from the event's decoded fields, not copied from `raw`:
/// schema fields in a fixed order, `ts` and `expires_at` in UTC, `source_ip`
/// in its canonical spelling, identities trimmed, strings escaped minimally
/// (`"`, `\`, control characters and DEL as escapes; everything else as UTF-8).
/// `details` and unknown fields, which the event does not interpret, are
/// carried over verbatim from `raw` in their original order.
///
/// Decoding the result gives back the same event, field by field, and encoding
/// that again gives the same bytes; the property tests and the `decoder` fuzz
/// target check both.
public enum EventEncoder {
    public static func encode(_ e: Event) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(e.raw.count + 64)
        var first = true
        func key(_ name: StaticString) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            appendQuoted(value, to: &out)
        }
        string("ts", e.ts.rfc3339)
        string("event", e.kind.description)
        string("request_id", e.requestID)
        string("actor", e.actor)
        string("requester", e.requester)
        string("action", e.action)
        string("resource", e.resource)
        string("environment", e.environment)
        string("priority", e.priority?.description)
        string("justification", e.justification)
        string("ticket", e.ticket)
        string("source_ip", e.sourceIP?.description)
        string("device_id", e.deviceID)
        string("user_agent", e.userAgent)
        string("expires_at", e.expiresAt?.rfc3339)
        string("outcome", e.outcome?.description)
        for (k, v) in passThroughMembers(e.raw) {
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: e.raw[k])
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: e.raw[v])
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func encodeLine(_ e: Event) -> String { String(decoding: encode(e), as: UTF8.self) }

    /// Appends `s` as a JSON string literal.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 10: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 13: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 9: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20, 0x7F:
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The top-level members of an accepted line that are `details` or not
    /// schema fields, as (key, value) byte ranges of `raw`. The key range
    /// includes its quotes, as written.
    static func passThroughMembers(_ raw: [UInt8]) -> [(Range<Int>, Range<Int>)] {
        raw.withUnsafeBufferPointer { p in
            var s = JSONScanner(p: p, maxDepth: Int.max)
            var out: [(Range<Int>, Range<Int>)] = []
            s.skipWhitespace()
            guard s.i < p.count, p[s.i] == UInt8(ascii: "{") else { return out }
            s.i += 1
            while true {
                s.skipWhitespace()
                guard s.i < p.count, p[s.i] == UInt8(ascii: "\"") else { return out }
                let keyStart = s.i
                guard let span = try? s.scanString() else { return out }
                let keyRange = keyStart..<s.i
                s.skipWhitespace()
                guard s.i < p.count, p[s.i] == UInt8(ascii: ":") else { return out }
                s.i += 1
                s.skipWhitespace()
                let valueStart = s.i
                guard (try? s.skipValue(depth: 1)) != nil else { return out }
                let field = span.hasEscapes ? Field.lookup(s.decode(span)) : Field.lookup(p, span.start, span.end)
                if field == nil || field == .details { out.append((keyRange, valueStart..<s.i)) }
                s.skipWhitespace()
                guard s.i < p.count, p[s.i] == UInt8(ascii: ",") else { return out }
                s.i += 1
            }
        }
    }

    /// The decoded fields on which `a` and `b` differ (empty when they are the
    /// same event); text compares byte for byte, not by Unicode equivalence.
    public static func fieldDifferences(_ a: Event, _ b: Event) -> [String] {
        var diffs: [String] = []
        func text(_ name: String, _ x: String?, _ y: String?) {
            if x.map({ Array($0.utf8) }) != y.map({ Array($0.utf8) }) { diffs.append(name) }
        }
        if a.ts != b.ts { diffs.append("ts") }
        if a.kind != b.kind { diffs.append("event") }
        text("request_id", a.requestID, b.requestID)
        text("actor", a.actor, b.actor)
        text("actorKey", a.actorKey, b.actorKey)
        text("requester", a.requester, b.requester)
        text("action", a.action, b.action)
        text("resource", a.resource, b.resource)
        text("environment", a.environment, b.environment)
        if a.priority != b.priority { diffs.append("priority") }
        text("justification", a.justification, b.justification)
        text("ticket", a.ticket, b.ticket)
        if a.sourceIP != b.sourceIP { diffs.append("source_ip") }
        text("device_id", a.deviceID, b.deviceID)
        text("user_agent", a.userAgent, b.userAgent)
        if a.expiresAt != b.expiresAt { diffs.append("expires_at") }
        if a.outcome != b.outcome { diffs.append("outcome") }
        let pa = passThroughMembers(a.raw).map { (Array(a.raw[$0.0]), Array(a.raw[$0.1])) }
        let pb = passThroughMembers(b.raw).map { (Array(b.raw[$0.0]), Array(b.raw[$0.1])) }
        if !pa.elementsEqual(pb, by: { $0.0 == $1.0 && $0.1 == $1.1 }) { diffs.append("details/unknown fields") }
        return diffs
    }
}
