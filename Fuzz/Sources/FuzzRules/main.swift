// Fuzz target `rules`: ConfigLoader and RuleLoader over arbitrary text, then
// the engine with whatever rule set loaded.
//
// The input is `config NUL rules`; without a NUL byte it is tried both as a
// rule file (under the default config) and as a config file. Checks:
// - loading returns a value or located diagnostics, each with a code and a
//   one-line message, line and column at least 1;
// - a rule set that loads runs over a fixed little story of events (with
//   hostile text in them) without trapping, and every finding renders as a
//   JSON line and a text line with no raw control characters.
import FuzzSupport
import JITAuditCore

enum Story {
    static let lines: [String] = [
        #"{"ts":"2026-03-07T02:00:00Z","event":"request","request_id":"r1","actor":"Alice","action":"deploy","resource":"api","environment":"prod","priority":"high","justification":"n/a","source_ip":"10.0.0.1","device_id":"d1"}"#,
        #"{"ts":"2026-03-07T02:00:10Z","event":"approve","request_id":"r1","actor":" alice ","source_ip":"::ffff:10.0.0.1","device_id":"d2","expires_at":"2026-03-07T02:30:00Z"}"#,
        #"{"ts":"2026-03-07T02:05:00Z","event":"request","request_id":"r2","actor":"mallory\u001b[31m\nFAKE","priority":"critical","justification":"\u009b2J%n%s'; DROP TABLE findings;--","ticket":"T\r\n-1"}"#,
        #"{"ts":"2026-03-07T02:06:00Z","event":"request","request_id":"r3","actor":"alice","priority":"low"}"#,
        #"{"ts":"2026-03-07T02:07:00Z","event":"request","request_id":"r4","actor":"alice"}"#,
        #"{"ts":"2026-03-07T02:08:00Z","event":"request","request_id":"r5","actor":"ALICE","user_agent":"curl/8"}"#,
        #"{"ts":"2026-03-07T02:09:00Z","event":"request","request_id":"r6","actor":"alice","environment":"staging"}"#,
        #"{"ts":"2026-03-07T02:09:30Z","event":"execute","request_id":"r1","actor":"alice","outcome":"success"}"#,
        #"{"ts":"2026-03-07T02:09:40Z","event":"approve","request_id":"r2","actor":"mallory\u001b[31m\nFAKE","source_ip":"2001:db8::1"}"#,
        #"{"ts":"2026-03-07T02:09:20Z","event":"reject","request_id":"r3","actor":"bob","source_ip":"192.0.2.7"}"#,
        #"{"ts":"2026-03-07T02:10:00Z","event":"execute","request_id":"r3","actor":"alice","outcome":"failure"}"#,
        #"{"ts":"2026-03-07T02:11:00Z","event":"revoke","request_id":"r2","actor":"bob"}"#,
        #"{"ts":"2026-03-07T02:12:00Z","event":"execute","request_id":"r2","actor":"mallory","requester":"mallory"}"#,
        #"{"ts":"2026-03-09T09:00:00+01:00","event":"cancel","request_id":"r4","actor":"alice"}"#,
        #"{"ts":"2026-03-09T10:00:00Z","event":"expire","request_id":"r5","actor":"system"}"#,
        #"{"ts":"2026-03-20T10:00:00Z","event":"approve","request_id":"r6","actor":"carol","requester":"alice","justification":"rollout of the reviewed change"}"#,
    ]

    /// Decoded once, on first use.
    static let events: [Event] = lines.map {
        guard case .success(let e) = LineDecoder().decode($0) else { fatalError("story line rejected: \($0)") }
        return e
    }
}

func checkDiagnostics(_ e: LoadError, _ what: String) {
    require(!e.diagnostics.isEmpty, "\(what): a failed load without diagnostics")
    for d in e.diagnostics {
        require(!d.code.isEmpty, "\(what): diagnostic without a code: \(d)")
        require(!d.message.isEmpty, "\(what): diagnostic without a message: \(d)")
        require(!d.description.utf8.contains { $0 == 10 || $0 == 13 }, "\(what): multi-line diagnostic \(d.description.debugDescription)")
        if let loc = d.location { require(loc.line >= 1 && loc.column >= 1, "\(what): location \(loc) in \(d)") }
    }
}

func run(_ set: RuleSet, _ config: EngineConfig) {
    var engine = Engine(rules: set, config: config)
    var findings: [Finding] = []
    for e in Story.events {
        engine.ingest(e)
        findings += engine.takeFindings()
    }
    engine.finish()
    findings += engine.takeFindings()
    for f in findings {
        let json = FindingFormat.json(f)
        require(!json.utf8.contains { $0 < 0x20 }, "raw control character in finding JSON \(json.debugDescription)")
        let text = Array(FindingFormat.text(f).utf8)
        for (k, b) in text.enumerated() {
            let c1 = b == 0xC2 && k + 1 < text.count && text[k + 1] >= 0x80 && text[k + 1] < 0xA0
            require(b >= 0x20 && b != 0x7F && !c1, "control character in finding text \(shown(text))")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let configText: String
    let rulesText: String
    if let nul = bytes.firstIndex(of: 0) {
        configText = String(decoding: bytes[..<nul], as: UTF8.self)
        rulesText = String(decoding: bytes[(nul + 1)...], as: UTF8.self)
    } else {
        let whole = String(decoding: bytes, as: UTF8.self)
        // The whole input as a config file too.
        if case .failure(let e) = ConfigLoader.load(whole, file: "fuzz-config.yaml") { checkDiagnostics(e, "config") }
        configText = ""
        rulesText = whole
    }
    let config: EngineConfig
    switch ConfigLoader.load(configText, file: "fuzz-config.yaml") {
    case .success(let c): config = c
    case .failure(let e): checkDiagnostics(e, "config"); return 0
    }
    switch RuleLoader.load([("fuzz-rules.yaml", rulesText)], config: config) {
    case .success(let set): run(set, config)
    case .failure(let e): checkDiagnostics(e, "rules")
    }
    return 0
}
