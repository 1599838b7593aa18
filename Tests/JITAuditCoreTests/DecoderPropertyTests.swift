import Foundation
import JITAuditCore
import Testing

/// Parser invariants (issue 5, part 2) as seeded property tests: any byte
/// string gives an event or a rejection with a reason, never a crash or a hang;
/// an accepted event re-encoded and re-parsed is the same event. Every random
/// case comes from a fixed seed, and a failure names the seed and the input, so
/// it reproduces. The same checks replay `fixtures/fuzz-regressions/decoder/`.
@Suite struct DecoderPropertyTests {
    // MARK: any byte string

    @Test func randomBytesGiveAnEventOrARejection() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        let alphabet = Array(#"{}[]":,\ntrue false null 0123456789-+.eE\u"#.utf8) + [0, 9, 10, 13, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0xFF]
        for n in 0..<20_000 {
            let len = Int(rng.next() % 200)
            let bytes: [UInt8] = (0..<len).map { _ in
                rng.next() % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))]
            }
            checkLine(bytes, "random bytes #\(n)")
        }
    }

    @Test func mutatedValidLinesGiveAnEventOrARejection() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        let seeds = Corpus.lines
        let tokens = [#"""#, "\\", "{", "}", "[", "]", ":", ",", "null", "true", "1e999", "-0", #"\u0000"#, #"\ud800"#,
                      #"\udc00"#, "\u{FEFF}", "\r", "\n", " ", #""ts""#, #""actor""#, #""details""#, "\u{1F680}"].map { Array($0.utf8) }
        var accepted = 0
        for n in 0..<6_000 {
            var b = seeds[Int(rng.next() % UInt64(seeds.count))]
            for _ in 0...(rng.next() % 4) { mutate(&b, &rng, tokens) }
            if checkLine(b, "mutation #\(n) (seed 0x5EED0002)") { accepted += 1 }
        }
        // The mutations must leave enough lines valid to exercise the re-encoding.
        #expect(accepted > 300, "only \(accepted) mutated lines were accepted")
    }

    /// A stream decoder checks each key against the previous line's field
    /// order first (`decodeNext`); whatever the orders, it gives exactly what
    /// a fresh decoder gives: the same event, or the same rejection.
    @Test func decodingAStreamInTurnEqualsDecodingEachLineAlone() {
        var rng = SplitMix64(seed: 0x5EED_0006)
        let fields: [(String, String)] = [
            ("ts", #""2026-03-02T10:00:00Z""#), ("event", #""approve""#), ("request_id", #""r-1""#), ("actor", #""Bob""#),
            ("requester", #""alice""#), ("action", #""deploy""#), ("resource", #""db/main""#), ("environment", #""prod""#),
            ("priority", #""high""#), ("justification", #""hotfix for INC-1""#), ("ticket", #""INC-1""#),
            ("source_ip", #""10.0.0.1""#), ("device_id", #""dev-1""#), ("user_agent", #""cli/1""#),
            ("expires_at", #""2026-03-02T11:00:00Z""#), ("outcome", #""success""#), ("details", #"{"k":[1,2]}"#),
        ]
        // Keys that look like a field's name but are not, or are it spelled with an escape.
        let lookalikes = [#""t""#, #""tsx""#, #""ts""#, #""actors""#, #""Actor""#, #""event ""#, #""x""#]
        var lines: [[UInt8]] = Corpus.lines
        for n in 0..<4_000 {
            var chosen = fields.filter { _ in rng.next() % 3 != 0 }
            // Mostly one order, as a producer writes them; now and then another.
            if n % 7 == 0 { chosen.shuffle(using: &rng) }
            var parts = chosen.map { "\"\($0.0)\":\($0.1)" }
            if n % 5 == 0 { parts.insert(lookalikes[Int(rng.next() % UInt64(lookalikes.count))] + ":1", at: Int(rng.next() % UInt64(parts.count + 1))) }
            if n % 11 == 0, let dup = parts.first { parts.append(dup) }
            if n % 13 == 0 { parts += (0..<40).map { #""extra\#($0)":0"# } }
            lines.append(Array(("{" + parts.joined(separator: n % 3 == 0 ? ", " : ",") + "}").utf8))
        }
        var stream = LineDecoder()
        for (n, line) in lines.enumerated() {
            let what = "line \(n): \(String(decoding: line.prefix(200), as: UTF8.self))"
            switch (stream.decodeNext(line), LineDecoder().decode(line)) {
            case (.success(let a), .success(let b)):
                let diffs = EventEncoder.fieldDifferences(a, b)
                #expect(diffs.isEmpty && a.raw == b.raw, "\(diffs): \(what)")
            case (.failure(let a), .failure(let b)):
                #expect(a.kind == b.kind && a.message == b.message, "\(a.message) / \(b.message): \(what)")
            case (let a, let b):
                Issue.record("stream \(a), alone \(b): \(what)")
            }
        }
    }

    @Test func everyTruncationOfAValidLineIsRejected() {
        var checked = 0
        // (The fixtures' one 70 KB line would make this quadratic; real lines are short.)
        for line in Corpus.lines where line.count <= 4096 {
            guard case .success = LineDecoder().decode(line) else { continue }
            // A proper prefix of an object lacks its closing brace: never an event.
            let body = line.last == 13 ? Array(line.dropLast()) : line
            for cut in 0..<body.count {
                let prefix = Array(body[..<cut])
                guard case .failure(let r) = LineDecoder().decode(prefix) else {
                    Issue.record("accepted a truncation at byte \(cut) of \(String(decoding: body, as: UTF8.self))")
                    continue
                }
                if r.kind != .notJSON && r.kind != .invalidUTF8 { Issue.record("\(r.kind) for a truncation at \(cut): \(r.message)") }
                checkLine(prefix, "truncation at \(cut)")
                checked += 1
            }
        }
        #expect(checked > 10_000)
    }

    // MARK: generated JSON values

    /// Events valid by construction decode to exactly the generated values,
    /// whatever the field order, whitespace and escaping.
    @Test func generatedValidEventsDecodeToTheirValues() throws {
        var rng = SplitMix64(seed: 0x5EED_0003)
        for n in 0..<3_000 {
            let m = EventModel.random(&rng)
            let text = m.json(&rng)
            let what = "generated event #\(n) (seed 0x5EED0003): \(String(decoding: text, as: UTF8.self))"
            checkLine(text, what)
            let result = LineDecoder().decode(text)
            if let reason = m.expectedRejection {
                guard case .failure(let r) = result else { Issue.record("accepted, wanted \(reason): \(what)"); continue }
                #expect(r.kind == reason, "\(r.message): \(what)")
                continue
            }
            guard case .success(let e) = result else { Issue.record("rejected: \(result): \(what)"); continue }
            let diffs = m.differences(e)
            #expect(diffs.isEmpty, "fields \(diffs) differ: \(what)")
        }
    }

    /// One targeted fault in an otherwise valid event gives the matching rejection.
    @Test func generatedFaultsGiveTheirRejection() {
        var rng = SplitMix64(seed: 0x5EED_0004)
        var kinds: Set<Rejection.Kind> = []
        for n in 0..<3_000 {
            var m = EventModel.random(&rng)
            guard m.expectedRejection == nil else { continue }
            let want = m.injectFault(&rng)
            let text = m.json(&rng)
            let what = "fault #\(n) (seed 0x5EED0004): \(String(decoding: text, as: UTF8.self))"
            checkLine(text, what)
            guard case .failure(let r) = LineDecoder().decode(text) else { Issue.record("accepted, wanted \(want): \(what)"); continue }
            #expect(r.kind == want, "\(r.message): \(what)")
            kinds.insert(r.kind)
        }
        #expect(kinds.isSuperset(of: [.missingField, .wrongType, .badValue, .duplicateField, .invalidUTF8, .notJSON]))
    }

    /// Random JSON values of every type, objects or not, with schema keys.
    @Test func randomJSONValuesGiveAnEventOrARejection() {
        var rng = SplitMix64(seed: 0x5EED_0005)
        for n in 0..<5_000 {
            var v = JSONGen.value(&rng, depth: 0)
            if rng.next() % 2 == 0 { v = JSONGen.object(&rng, depth: 0, schemaKeys: true) }
            checkLine(Array(v.utf8), "random JSON #\(n) (seed 0x5EED0005)")
        }
    }

    // MARK: bounded time

    @Test(arguments: Pathological.cases)
    func pathologicalInputsAreRejectedInBoundedTime(_ c: Pathological) {
        let bytes = c.make()
        let clock = ContinuousClock()
        var result: Result<Event, Rejection>?
        let elapsed = clock.measure { result = LineDecoder().decode(bytes) }
        // Linear scans take milliseconds even in a debug build on a busy machine;
        // anything quadratic on 64 KiB would take far longer.
        #expect(elapsed < .milliseconds(750), "\(c.name): \(elapsed)")
        switch result {
        case .failure(let r)?: #expect(c.accepted == false, "\(c.name): \(r.message)")
        case .success?: #expect(c.accepted == true, "\(c.name) was accepted")
        case nil: Issue.record("no result")
        }
        checkLine(bytes, c.name)
    }

    // MARK: the canonical encoder itself

    @Test func encoderWritesTheCanonicalLine() throws {
        let e = try decode(#"{ "details" : {"a": [1, 2]}, "x":null, "actor":" Bob ", "request_id":"r\u0031","ts":"2026-03-02T15:07:11.25+01:00","event":"approve","source_ip":"::FFFF:10.0.0.1","justification":"line\nbreak \"q\" \u007f é"}"#)
        #expect(EventEncoder.encodeLine(e) == #"{"ts":"2026-03-02T14:07:11.250Z","event":"approve","request_id":"r1","actor":"Bob","justification":"line\nbreak \"q\" \u007f é","source_ip":"10.0.0.1","details":{"a": [1, 2]},"x":null}"#)
    }

    /// Instants that have no UTC spelling in RFC 3339 (before year 0000 or after
    /// 9999 once the offset is applied) are rejected: their findings could not
    /// carry a valid `ts`. Found by the re-encoding property.
    @Test(arguments: ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "9999-12-31T23:59:60Z"])
    func instantsOutsideTheRFC3339RangeAreRejected(_ ts: String) {
        guard case .failure(let r) = LineDecoder().decode(line(ts, "request", "r", "a")) else { Issue.record("accepted \(ts)"); return }
        #expect(r.kind == .badValue)
        for ok in ["0000-01-01T00:00:00Z", "0000-01-01T00:00:00-23:59", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+23:59"] {
            if case .failure(let r) = LineDecoder().decode(line(ok, "request", "r", "a")) { Issue.record("\(ok): \(r.message)") }
        }
    }

    @Test func fuzzRegressionsStayFixed() throws {
        for (name, bytes) in try Corpus.regressions("decoder") {
            // A fuzz input is one line; the harness also splits on newlines.
            checkLine(bytes, "fixtures/fuzz-regressions/decoder/\(name)")
            for part in bytes.split(separator: 10, omittingEmptySubsequences: false) { checkLine(Array(part), name) }
        }
    }
}

// MARK: - The invariants

/// Decodes `bytes` and checks every invariant; returns whether it was accepted.
/// (Plain `if`s rather than `#expect`: this runs some 100,000 times.)
@discardableResult
func checkLine(_ bytes: [UInt8], _ what: @autoclosure () -> String) -> Bool {
    func fail(_ problem: String) { Issue.record(Comment(rawValue: problem + ": " + what())) }
    switch LineDecoder().decode(bytes) {
    case .failure(let r):
        if r.message.isEmpty { fail("empty rejection reason") }
        // A reason is one printable line of bounded length: it goes to logs and tables.
        if r.message.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { fail("control character in \(r.message.debugDescription)") }
        if r.message.utf8.count > 512 { fail("reason of \(r.message.utf8.count) bytes") }
        return false
    case .success(let e):
        let body = bytes.last == 13 ? Array(bytes.dropLast()) : bytes
        if e.raw != body { fail("raw is not the line") }
        for (name, v) in [("request_id", e.requestID), ("actor", e.actor)] where v.isEmpty || v.utf8.count > 256 || v.trimmingWhitespace.isEmpty {
            fail("\(name) \(v.debugDescription)")
        }
        if e.actorKey != Identity.key(e.actor) { fail("actorKey \(e.actorKey.debugDescription)") }
        if let r = e.requester, r.trimmingWhitespace.isEmpty { fail("blank requester") }
        // Re-encoded and re-parsed, it is the same event; encoding is a fixed point.
        let canonical = EventEncoder.encode(e)
        let shown = String(decoding: canonical, as: UTF8.self)
        switch LineDecoder().decode(canonical) {
        case .failure(let r):
            fail("re-encoded line rejected (\(r.message)): \(shown)")
        case .success(let again):
            let diffs = EventEncoder.fieldDifferences(e, again)
            if !diffs.isEmpty { fail("re-parsed event differs in \(diffs): \(shown)") }
            if EventEncoder.encode(again) != canonical { fail("encoding is not a fixed point: \(shown)") }
        }
        // Surrounding whitespace changes nothing.
        if case .success(let padded) = LineDecoder().decode([32, 9] + bytes + [32]) {
            if !EventEncoder.fieldDifferences(e, padded).isEmpty { fail("padding changed fields") }
        } else {
            fail("padding rejected an accepted line")
        }
        return true
    }
}

// MARK: - Inputs


enum Corpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every line of the shipped fixtures, valid and invalid.
    static let lines: [[UInt8]] = {
        var out: [[UInt8]] = []
        for name in ["fixtures/demo.jsonl", "fixtures/bad-input.jsonl"] {
            guard let d = FileManager.default.contents(atPath: root.appendingPathComponent(name).path) else { continue }
            out += [UInt8](d).split(separator: 10).map(Array.init)
        }
        return out
    }()

    /// `fixtures/fuzz-regressions/<target>/*`, sorted by name.
    static func regressions(_ target: String) throws -> [(String, [UInt8])] {
        let dir = root.appendingPathComponent("fixtures/fuzz-regressions/\(target)")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return try names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map {
            ($0, [UInt8](try Data(contentsOf: dir.appendingPathComponent($0))))
        }
    }
}

func mutate(_ b: inout [UInt8], _ rng: inout SplitMix64, _ tokens: [[UInt8]]) {
    let at = b.isEmpty ? 0 : rng.below(b.count + 1)
    switch rng.below(6) {
    case 0: if at < b.count { b[at] = UInt8(truncatingIfNeeded: rng.next()) }
    case 1: b.insert(contentsOf: tokens[rng.below(tokens.count)], at: at)
    case 2: if at < b.count { b.removeSubrange(at..<min(b.count, at + 1 + rng.below(8))) }
    case 3:
        if at < b.count {
            let chunk = Array(b[at..<min(b.count, at + 1 + rng.below(16))])
            b.insert(contentsOf: chunk, at: rng.below(b.count))
        }
    case 4: if at < b.count { b[at] ^= 1 << UInt8(rng.below(8)) }
    default:
        // Replace a string's contents: the most common way a line stays valid.
        if let q = b[at...].firstIndex(of: 34), let e = b[(q + 1)...].firstIndex(of: 34) {
            b.replaceSubrange((q + 1)..<e, with: Array(JSONGen.stringBody(&rng, JSONGen.text(&rng, maxScalars: 12)).utf8))
        }
    }
}

struct Pathological: Sendable, CustomTestStringConvertible {
    let name: String
    let accepted: Bool
    let make: @Sendable () -> [UInt8]
    var testDescription: String { name }

    static let head = #"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","#
    static func field(_ name: String, _ value: String) -> [UInt8] { Array((head + "\"\(name)\":" + value + "}").utf8) }
    static let k64 = 64 * 1024

    static let cases: [Pathological] = [
        .init(name: "64 KiB of [", accepted: false) { Array(repeating: UInt8(ascii: "["), count: k64) },
        .init(name: "64 KiB of {", accepted: false) { Array(repeating: UInt8(ascii: "{"), count: k64) },
        .init(name: "64 KiB of [ in details", accepted: false) { field("details", String(repeating: "[", count: k64)) },
        .init(name: "64 KiB of {\"a\": in details", accepted: false) { field("details", String(repeating: #"{"a":"#, count: k64 / 5)) },
        .init(name: "nesting at the limit, repeated", accepted: true) {
            field("details", "[" + Array(repeating: String(repeating: "[", count: 63) + String(repeating: "]", count: 63), count: 500).joined(separator: ",") + "]")
        },
        .init(name: "64 KiB of backslashes", accepted: true) { field("justification", "\"" + String(repeating: #"\\"#, count: k64 / 2) + "\"") },
        .init(name: "64 KiB of \\u0000", accepted: true) { field("justification", "\"" + String(repeating: #"\u0000"#, count: k64 / 6) + "\"") },
        .init(name: "surrogate pairs in an identifier", accepted: false) { Array(line("2026-03-02T10:00:00Z", "request", String(repeating: "\u{1F680}", count: 5000), "a").utf8) },
        .init(name: "escaped surrogate pairs in every lazy field", accepted: true) {
            let s = "\"" + String(repeating: #"\ud83d\ude80"#, count: 900) + "\""
            return Array((head + ["action", "resource", "environment", "justification", "ticket", "user_agent"].map { "\"\($0)\":\(s)" }.joined(separator: ",") + "}").utf8)
        },
        .init(name: "unterminated escape run", accepted: false) { field("justification", "\"" + String(repeating: #"\\"#, count: k64 / 2) + #"\"#) },
        .init(name: "10,000 unknown fields", accepted: true) { field("x", "0," + (0..<10_000).map { "\"k\($0)\":\($0)" }.joined(separator: ",")) },
        .init(name: "one 64 KiB number", accepted: true) { field("details", "-" + String(repeating: "9", count: k64) + ".5e-" + String(repeating: "7", count: 100)) },
        .init(name: "64 KiB of whitespace", accepted: true) { Array(repeating: 32, count: k64) + Array(line("2026-03-02T10:00:00Z", "request", "r", "a").utf8) },
        .init(name: "64 KiB of 0xFF", accepted: false) { Array(repeating: 0xFF, count: k64) },
        .init(name: "64 KiB of NUL in a string", accepted: false) { Array(head.utf8) + [34] + Array(repeating: 0, count: k64) },
        .init(name: "a 64 KiB fraction of a second", accepted: true) { Array((#"{"ts":"2026-03-02T10:00:00."# + String(repeating: "1", count: k64) + #"Z","event":"request","request_id":"r","actor":"a"}"#).utf8) },
        .init(name: "a 64 KiB source_ip", accepted: false) { field("source_ip", "\"" + String(repeating: "1:", count: k64 / 2) + "\"") },
        .init(name: "a 64 KiB priority", accepted: false) { field("priority", "\"" + String(repeating: "h", count: k64) + "\"") },
    ]
}

// MARK: - Generators

enum JSONGen {
    static let pool: [Unicode.Scalar] = Array("abcXYZ09 -_./:@".unicodeScalars)
        + ["\"", "\\", "\n", "\t", "\r", "\u{0}", "\u{1B}", "\u{7F}", "é", "ß", "İ", "中", "🚀", "\u{301}", "\u{A0}", "\u{85}", "\u{2028}", "\u{FEFF}", "\u{10FFFF}", "\u{600}"]

    static func text(_ rng: inout SplitMix64, maxScalars: Int) -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.below(maxScalars + 1) { s.append(pool[rng.below(pool.count)]) }
        return String(s)
    }

    /// The body of a JSON string literal for `s`, escaping at random where JSON allows.
    static func stringBody(_ rng: inout SplitMix64, _ s: String) -> String {
        var out = ""
        func u(_ v: UInt32) -> String {
            let h = String(v, radix: 16)
            let padded = String(repeating: "0", count: 4 - h.count) + h
            return "\\u" + (rng.chance(50) ? padded.uppercased() : padded)
        }
        for c in s.unicodeScalars {
            let must = c == "\"" || c == "\\" || c.value < 0x20
            if !must && !rng.chance(15) { out.unicodeScalars.append(c); continue }
            switch c {
            case "\"": out += rng.chance(50) ? "\\\"" : u(0x22)
            case "\\": out += rng.chance(50) ? "\\\\" : u(0x5C)
            case "\n": out += rng.chance(50) ? "\\n" : u(10)
            case "\t": out += rng.chance(50) ? "\\t" : u(9)
            case "\r": out += rng.chance(50) ? "\\r" : u(13)
            case "/": out += "\\/"
            default:
                if c.value >= 0x10000 {
                    let v = c.value - 0x10000
                    out += u(0xD800 + (v >> 10)) + u(0xDC00 + (v & 0x3FF))
                } else {
                    out += u(c.value)
                }
            }
        }
        return out
    }

    static func ws(_ rng: inout SplitMix64) -> String {
        guard rng.chance(20) else { return "" }
        return [" ", "  ", "\t", "\r", "\n", " \t "][rng.below(6)]
    }

    static func value(_ rng: inout SplitMix64, depth: Int) -> String {
        switch rng.below(depth > 4 ? 5 : 7) {
        case 0: return "null"
        case 1: return rng.chance(50) ? "true" : "false"
        case 2: return ["0", "-0", "1.5", "-12e3", "1E+2", "0.000001", "123456789012345678901234567890"][rng.below(7)]
        case 3, 4: return "\"" + stringBody(&rng, text(&rng, maxScalars: 10)) + "\""
        case 5: return "[" + (0..<rng.below(4)).map { _ in ws(&rng) + value(&rng, depth: depth + 1) + ws(&rng) }.joined(separator: ",") + "]"
        default: return object(&rng, depth: depth + 1, schemaKeys: false)
        }
    }

    static let schemaKeys = ["ts", "event", "request_id", "actor", "requester", "action", "resource", "environment", "priority",
                             "justification", "ticket", "source_ip", "device_id", "user_agent", "expires_at", "outcome", "details"]

    static func object(_ rng: inout SplitMix64, depth: Int, schemaKeys useSchema: Bool) -> String {
        let members = (0..<rng.below(useSchema ? 8 : 4)).map { _ in
            let k = useSchema && rng.chance(70) ? schemaKeys[rng.below(schemaKeys.count)] : text(&rng, maxScalars: 5)
            var v = value(&rng, depth: depth)
            if useSchema, rng.chance(30) {
                v = ["\"2026-03-02T10:00:00Z\"", "\"request\"", "\"approve\"", "\"high\"", "\"10.0.0.1\"", "\"alice\"", "\"success\""][rng.below(7)]
            }
            return ws(&rng) + "\"" + stringBody(&rng, k) + "\"" + ws(&rng) + ":" + ws(&rng) + v + ws(&rng)
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}

/// A schema-v1 event generated together with the values the decoder must give.
struct EventModel {
    /// Field name → JSON text of its value, in output order; a field may repeat.
    var members: [(String, String)] = []
    var ts: Timestamp?
    var kind: EventKind = .request
    var requestID = ""
    var actor = ""
    var requester: String?
    var texts: [String: String] = [:]  // action, resource, environment, justification, ticket, user_agent, device_id
    var priority: Priority?
    var outcome: Outcome?
    var sourceIP: IPAddress?
    var expiresAt: Timestamp?
    var expectedRejection: Rejection.Kind?

    static let lazyNames = ["action", "resource", "environment", "justification", "ticket", "user_agent", "device_id"]

    static func random(_ rng: inout SplitMix64) -> EventModel {
        var m = EventModel()
        var fields: [(String, String)] = []  // name, string value before quoting
        let (tsText, ts) = randomTimestamp(&rng)
        m.ts = ts
        if ts == nil { m.expectedRejection = .badValue }
        fields.append(("ts", tsText))
        m.kind = EventKind.allCases[rng.below(EventKind.allCases.count)]
        fields.append(("event", m.kind.description))
        m.requestID = identifier(&rng)
        fields.append(("request_id", m.requestID))
        let actor = identifier(&rng)
        m.actor = actor
        fields.append(("actor", actor))
        for name in ["request_id", "actor"] {
            let v = name == "actor" ? actor : m.requestID
            if v.trimmingWhitespace.isEmpty || v.utf8.count > 256 { m.expectedRejection = m.expectedRejection ?? .badValue }
        }
        if rng.chance(40) {
            let r = identifier(&rng)
            m.requester = r
            fields.append(("requester", r))
            if r.trimmingWhitespace.isEmpty || r.utf8.count > 256 { m.expectedRejection = m.expectedRejection ?? .badValue }
        }
        for name in lazyNames where rng.chance(40) {
            let t = JSONGen.text(&rng, maxScalars: 20)
            m.texts[name] = t
            fields.append((name, t))
        }
        if rng.chance(50) { m.priority = Priority.allCases[rng.below(4)]; fields.append(("priority", m.priority!.description)) }
        if rng.chance(30) { m.outcome = Outcome.allCases[rng.below(2)]; fields.append(("outcome", m.outcome!.description)) }
        if rng.chance(50) { let (t, ip) = randomIP(&rng); m.sourceIP = ip; fields.append(("source_ip", t)) }
        if rng.chance(30) {
            let (t, v) = randomTimestamp(&rng)
            m.expiresAt = v
            if v == nil { m.expectedRejection = m.expectedRejection ?? .badValue }
            fields.append(("expires_at", t))
        }
        for (k, v) in fields { m.members.append((k, "\"" + JSONGen.stringBody(&rng, v) + "\"")) }
        if rng.chance(40) { m.members.append(("details", rng.chance(50) ? JSONGen.object(&rng, depth: 1, schemaKeys: true) : nonNullValue(&rng))) }
        for _ in 0..<rng.below(3) {
            // Distinct names (byte for byte): a repeated field, known or not, is a rejection of its own.
            let name = "x-" + JSONGen.text(&rng, maxScalars: 4)
            if !m.members.contains(where: { $0.0.utf8.elementsEqual(name.utf8) }) { m.members.append((name, JSONGen.value(&rng, depth: 1))) }
        }
        m.members.shuffle(using: &rng)
        return m
    }

    static func nonNullValue(_ rng: inout SplitMix64) -> String {
        while true { let v = JSONGen.value(&rng, depth: 1); if v != "null" { return v } }
    }

    static func identifier(_ rng: inout SplitMix64) -> String {
        switch rng.below(20) {
        case 0: return ""
        case 1: return "  \t"
        case 2: return String(repeating: "x", count: 256 + rng.below(2))
        case 3: return String(repeating: "é", count: 128 + rng.below(2))
        case 4: return " \u{A0}Alice\u{A0} "
        default:
            var s = JSONGen.text(&rng, maxScalars: 12)
            if rng.chance(70) { s = ["alice", "Bob", "REQ-1", "dev.ops@example.com", "İstanbul"][rng.below(5)] + s }
            return s
        }
    }

    /// An RFC 3339 spelling and the instant it names (nil when it must be rejected).
    static func randomTimestamp(_ rng: inout SplitMix64) -> (String, Timestamp?) {
        var year = Int64(rng.below(10_000)), month = Int64(1 + rng.below(12))
        var day = Int64(1 + rng.below(Int(CivilDate.daysInMonth(year: year, month: month))))
        var h = Int64(rng.below(24)), mi = Int64(rng.below(60)), s = Int64(rng.below(rng.chance(3) ? 61 : 60))
        if rng.chance(5) { (year, month, day, h, mi, s) = rng.chance(50) ? (0, 1, 1, 0, 0, 0) : (9999, 12, 31, 23, 59, 59) }
        func pad(_ v: Int64, _ w: Int) -> String { let t = String(v); return String(repeating: "0", count: max(0, w - t.count)) + t }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))\(["T", "t", " "][rng.below(3)])\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2))"
        var micros: Int64 = 0
        if rng.chance(60) {
            let digits = 1 + rng.below(9)
            var frac = ""
            for _ in 0..<digits { frac += String(rng.below(10)) }
            text += "." + frac
            let six = String((frac + "000000").prefix(6))
            micros = Int64(six)!
        }
        var offset: Int64 = 0
        switch rng.below(4) {
        case 0: text += "Z"
        case 1: text += "z"
        default:
            let oh = Int64(rng.below(24)), om = Int64(rng.below(60))
            let plus = rng.chance(50)
            offset = (oh * 3600 + om * 60) * (plus ? 1 : -1)
            text += (plus ? "+" : "-") + pad(oh, 2) + ":" + pad(om, 2)
        }
        let secs = CivilDate.toDays(year: year, month: month, day: day) * 86_400 + h * 3600 + mi * 60 + s - offset
        let first = CivilDate.toDays(year: 0, month: 1, day: 1) * 86_400
        let last = CivilDate.toDays(year: 10_000, month: 1, day: 1) * 86_400 - 1
        guard secs >= first, secs <= last else { return (text, nil) }
        return (text, Timestamp(micros: secs * 1_000_000 + micros))
    }

    static func randomIP(_ rng: inout SplitMix64) -> (String, IPAddress) {
        if rng.chance(50) {
            let v = UInt32(truncatingIfNeeded: rng.next())
            let ip = IPAddress(high: 0, low: 0xFFFF_0000_0000 | UInt64(v))
            let dotted = "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
            return (rng.chance(20) ? "::ffff:" + dotted : dotted, ip)
        }
        var groups = (0..<8).map { _ in rng.chance(40) ? UInt16(0) : UInt16(truncatingIfNeeded: rng.next()) }
        if rng.chance(20) { groups = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1] }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for k in 0..<4 { hi = hi << 16 | UInt64(groups[k]) }
        for k in 4..<8 { lo = lo << 16 | UInt64(groups[k]) }
        let ip = IPAddress(high: hi, low: lo)
        switch rng.below(3) {
        case 0: return (ip.description, ip)
        case 1: return (groups.map { String(repeating: "0", count: rng.below(2) * 2) + String($0, radix: 16, uppercase: true) }
                .map { String($0.suffix(4)) }.joined(separator: ":"), ip)
        default: return (ip.description.uppercased(), ip)
        }
    }

    /// Generated unknown fields start with `x-` (compared as bytes: `-` and a
    /// combining mark after it are one Character).
    static func isUnknown(_ name: String) -> Bool { name.utf8.starts(with: "x-".utf8) }

    static let invalidUTF8Marker = "\"INVALID-UTF8-HERE\""

    func json(_ rng: inout SplitMix64) -> [UInt8] {
        var body: [String] = []
        for (k, v) in members {
            body.append(JSONGen.ws(&rng) + "\"" + JSONGen.stringBody(&rng, k) + "\"" + JSONGen.ws(&rng) + ":" + JSONGen.ws(&rng) + v + JSONGen.ws(&rng))
        }
        let text = JSONGen.ws(&rng) + "{" + body.joined(separator: ",") + "}" + JSONGen.ws(&rng)
        guard let r = text.range(of: EventModel.invalidUTF8Marker) else { return Array(text.utf8) }
        // A lone lead byte followed by '(' inside a string.
        return Array(text[..<r.lowerBound].utf8) + [34, 0xC3, 0x28, 34] + Array(text[r.upperBound...].utf8)
    }

    /// Breaks a valid event in one way; returns the rejection that must follow.
    mutating func injectFault(_ rng: inout SplitMix64) -> Rejection.Kind {
        let required = ["ts", "event", "request_id", "actor"]
        switch rng.below(7) {
        case 0:
            let name = required[rng.below(4)]
            members.removeAll { $0.0 == name }
            return .missingField
        case 1:
            let stringFields = members.filter { $0.0 != "details" && !EventModel.isUnknown($0.0) }
            let name = stringFields[rng.below(stringFields.count)].0
            let bad = ["null", "1", "true", "[]", "{}", "[\"x\"]", "-2.5e3"][rng.below(7)]
            members = members.map { $0.0 == name ? (name, bad) : $0 }
            return .wrongType
        case 2:
            members.append(("details", "null"))
            members.removeAll { $0.0 == "details" && $0.1 != "null" }
            return .wrongType
        case 3:
            let present = members.filter { !EventModel.isUnknown($0.0) }
            let dup = present[rng.below(present.count)]
            members.insert(dup, at: rng.below(members.count + 1))
            return .duplicateField
        case 4:
            let name = ["event", "priority", "outcome"][rng.below(3)]
            members.removeAll { $0.0 == name }
            members.insert((name, ["\"Approve\"", "\"\"", "\"urgent \"", "\" high\"", "\"succes\""][rng.below(5)]), at: rng.below(members.count + 1))
            return .badValue
        case 5:
            // A member whose string value holds invalid UTF-8.
            members.insert(("x-bad", EventModel.invalidUTF8Marker), at: rng.below(members.count + 1))
            return .invalidUTF8
        default:
            members.append(("x-trailing", "1"))
            members.append(("x-more", ["01", "1.", "tru", "\"\\x\"", "[1,]", "{\"a\"}", "nul"][rng.below(7)]))
            return .notJSON
        }
    }

    /// Fields of `e` that differ from the generated values.
    func differences(_ e: Event) -> [String] {
        var d: [String] = []
        func same(_ a: String?, _ b: String?) -> Bool { a.map { Array($0.utf8) } == b.map { Array($0.utf8) } }
        if e.ts != ts { d.append("ts") }
        if e.kind != kind { d.append("event") }
        if !same(e.requestID, requestID) { d.append("request_id") }
        if !same(e.actor, Identity.trim(actor)) { d.append("actor") }
        if !same(e.actorKey, Identity.key(actor)) { d.append("actorKey") }
        if !same(e.requester, requester.map(Identity.trim)) { d.append("requester") }
        let got: [String: String?] = ["action": e.action, "resource": e.resource, "environment": e.environment,
                                      "justification": e.justification, "ticket": e.ticket, "user_agent": e.userAgent, "device_id": e.deviceID]
        for name in EventModel.lazyNames where !same(got[name]!, texts[name]) { d.append(name) }
        if e.priority != priority { d.append("priority") }
        if e.outcome != outcome { d.append("outcome") }
        if e.sourceIP != sourceIP { d.append("source_ip") }
        if e.expiresAt != expiresAt { d.append("expires_at") }
        return d
    }
}
