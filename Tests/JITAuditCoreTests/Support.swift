import JITAuditCore
import Testing

/// Builds one JSON event line. `extra` values are strings unless they start with `{`, `[`, or are numbers/literals.
func line(_ ts: String, _ kind: String, _ rid: String, _ actor: String, _ extra: KeyValuePairs<String, String> = [:]) -> String {
    var s = "{\"ts\":\"\(ts)\",\"event\":\"\(kind)\",\"request_id\":\"\(rid)\",\"actor\":\"\(actor)\""
    for (k, v) in extra { s += ",\"\(k)\":" + JSONText.quote(v) }
    return s + "}"
}

func decode(_ text: String) throws -> Event {
    switch LineDecoder().decode(text) {
    case .success(let e): return e
    case .failure(let r): throw r
    }
}

/// Runs `lines` through an engine (in the given arrival order) and returns every finding.
func run(_ lines: [String], config: String = "", rules: String? = nil) throws -> [Finding] {
    let cfg = try ConfigLoader.load(config, file: "test-config.yaml").get()
    let set = try RuleLoader.load([("test-rules.yaml", rules ?? DefaultRules.yaml)], config: cfg).get()
    var engine = Engine(rules: set, config: cfg)
    var out: [Finding] = []
    for l in lines {
        engine.ingest(try decode(l))
        out += engine.takeFindings()
    }
    engine.finish()
    return out + engine.takeFindings()
}

func rules(_ fs: [Finding], _ rule: String) -> [Finding] { fs.filter { $0.rule == rule } }
