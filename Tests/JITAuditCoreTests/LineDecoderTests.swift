import JITAuditCore
import Testing

@Suite struct LineDecoderTests {
    @Test func decodesEveryField() throws {
        let e = try decode(#"{"ts":"2026-03-02T14:07:11.250+01:00","event":"approve","request_id":"req-1","actor":" Alice ","requester":"bob","action":"deploy","resource":"payments-api","environment":"prod","priority":"high","justification":"hotfix for INC-1","ticket":"INC-1","source_ip":"2001:0db8:0:0:0:0:0:1","device_id":"dev-1","user_agent":"ua","expires_at":"2026-03-02T15:00:00Z","outcome":"success","details":{"diff":[1,2.5e3,true,null,{"x":"y"}]},"extra_field":"kept"}"#)
        #expect(e.ts.rfc3339 == "2026-03-02T13:07:11.250Z")
        #expect(e.kind == .approve)
        #expect(e.actor == "Alice")
        #expect(e.actorKey == "alice")
        #expect(e.requester == "bob")
        #expect(e.action == "deploy")
        #expect(e.resource == "payments-api")
        #expect(e.environment == "prod")
        #expect(e.priority == .high)
        #expect(e.justification == "hotfix for INC-1")
        #expect(e.ticket == "INC-1")
        #expect(e.sourceIP?.description == "2001:db8::1")
        #expect(e.deviceID == "dev-1")
        #expect(e.userAgent == "ua")
        #expect(e.expiresAt?.rfc3339 == "2026-03-02T15:00:00.000Z")
        #expect(e.outcome == .success)
        #expect(e.line.contains("extra_field"))
    }

    @Test func escapesAndSurrogatePairs() throws {
        let e = try decode(#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r\u0031","actor":"a","justification":"rocket \ud83d\ude80 tab\t quote\" slash\/ back\\ é"}"#)
        #expect(e.requestID == "r1")
        #expect(e.justification == "rocket 🚀 tab\t quote\" slash/ back\\ é")
    }

    @Test func trailingCarriageReturnIsIgnored() throws {
        let e = try decode("{\"ts\":\"2026-03-02T10:00:00Z\",\"event\":\"request\",\"request_id\":\"r\",\"actor\":\"a\"}\r")
        #expect(e.kind == .request)
    }

    @Test(arguments: [
        ("not json", Rejection.Kind.notJSON),
        ("", .notJSON),
        ("[1,2]", .notObject),
        ("\"text\"", .notObject),
        ("42", .notObject),
        (#"{"event":"request","request_id":"r","actor":"a"}"#, .missingField),
        (#"{"ts":"2026-03-02T10:00:00Z","request_id":"r","actor":"a"}"#, .missingField),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","actor":"a"}"#, .missingField),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r"}"#, .missingField),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"  "}"#, .badValue),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"","actor":"a"}"#, .badValue),
        (#"{"ts":1700000000,"event":"request","request_id":"r","actor":"a"}"#, .wrongType),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":null}"#, .wrongType),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","priority":null}"#, .wrongType),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","priority":{"p":1}}"#, .wrongType),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","details":null}"#, .wrongType),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","priority":"urgent"}"#, .badValue),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"approved","request_id":"r","actor":"a"}"#, .badValue),
        (#"{"ts":"2026-03-02T10:00:00","event":"request","request_id":"r","actor":"a"}"#, .badValue),
        (#"{"ts":"2026-02-30T10:00:00Z","event":"request","request_id":"r","actor":"a"}"#, .badValue),
        (#"{"ts":"2026-03-02T25:00:00Z","event":"request","request_id":"r","actor":"a"}"#, .badValue),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","source_ip":"999.1.1.1"}"#, .badValue),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","source_ip":"10.0.0.01"}"#, .badValue),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","source_ip":"2001:db8:::1"}"#, .badValue),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","actor":"b"}"#, .duplicateField),
        // Unknown fields too, however spelled, and past a third one.
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","zz":1,"zz":2}"#, .duplicateField),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","zz":1,"z\u007a":2}"#, .duplicateField),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","zz":1,"zy":2,"zx":3,"zy":4}"#, .duplicateField),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k\u0035":10}"#, .duplicateField),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a"} x"#, .notJSON),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"\ud800"}"#, .notJSON),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","details":[1,]}"#, .notJSON),
        (#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","details":01}"#, .notJSON),
    ])
    func rejects(_ text: String, _ kind: Rejection.Kind) {
        guard case .failure(let r) = LineDecoder().decode(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(r.kind == kind, "\(text): \(r.message)")
        #expect(!r.message.isEmpty)
    }

    @Test func rejectionMessagesNameTheFieldAndValue() {
        let text = #"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","priority":"urgent"}"#
        guard case .failure(let r) = LineDecoder().decode(text) else { Issue.record("accepted"); return }
        #expect(r.message == #"field "priority": expected one of low, normal, high, critical, got "urgent""#)
    }

    @Test func invalidUTF8AndRawControlBytes() {
        var bytes = Array(#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a"#.utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array("\"}".utf8)
        guard case .failure(let r) = LineDecoder().decode(bytes) else { Issue.record("accepted invalid UTF-8"); return }
        #expect(r.kind == .invalidUTF8)
        // Overlong encoding of '/' and an encoded surrogate are invalid UTF-8 too.
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]] {
            var b = Array(#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a"#.utf8) + bad + Array("\"}".utf8)
            if case .success = LineDecoder().decode(b) { Issue.record("accepted \(bad)") }
            b = Array(#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a"#.utf8) + [0] + Array("\"}".utf8)
            guard case .failure(let nul) = LineDecoder().decode(b) else { Issue.record("accepted NUL"); continue }
            #expect(nul.kind == .notJSON)
        }
    }

    @Test func nestingDepthIsBounded() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let text = #"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","details":"# + deep + "}"
        guard case .failure(let r) = LineDecoder().decode(text) else { Issue.record("accepted"); return }
        #expect(r.kind == .tooDeep)
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        if case .failure(let r) = LineDecoder().decode(#"{"ts":"2026-03-02T10:00:00Z","event":"request","request_id":"r","actor":"a","details":"# + ok + "}") {
            Issue.record("rejected 10 levels: \(r)")
        }
    }

    @Test func identifierLengthLimit() {
        let long = String(repeating: "x", count: 257)
        guard case .failure(let r) = LineDecoder().decode(line("2026-03-02T10:00:00Z", "request", long, "a")) else { Issue.record("accepted"); return }
        #expect(r.kind == .badValue)
        if case .failure = LineDecoder().decode(line("2026-03-02T10:00:00Z", "request", String(repeating: "x", count: 256), "a")) {
            Issue.record("rejected 256 bytes")
        }
    }
}
