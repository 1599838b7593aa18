import Yams

/// A validated set of rules with the calendars they need.
public struct RuleSet: Sendable {
    public var rules: [Rule]
    public var calendars: CalendarBook

    public init(rules: [Rule], calendars: CalendarBook) {
        self.rules = rules
        self.calendars = calendars
    }

    /// The built-in default rules (`rules/default.yaml`) under `config`.
    public static func defaults(config: EngineConfig) throws(LoadError) -> RuleSet {
        try RuleLoader.load([(DefaultRules.fileName, DefaultRules.yaml)], config: config).get()
    }
}

/// Loads rule files (SPEC §2 building blocks), collecting every problem with
/// file:line:column.
public enum RuleLoader {
    static let ruleKeys = ["id", "severity", "description", "type", "when", "summary", "enabled", "source", "group_by",
                           "window", "count", "rearm", "values", "learn_from", "learning_period", "trusted_networks",
                           "expect", "within", "require", "suppress"]
    static let idCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789_-.")

    /// Loads `(file name, text)` pairs; rule ids must be unique across them.
    public static func load(_ files: [(String, String)], config: EngineConfig) -> Result<RuleSet, LoadError> {
        var d: [Diagnostic] = []
        var rules: [Rule] = []
        var seen: [String: SourceLocation] = [:]
        var loader = ConditionLoader(trustedNetworks: config.trustedNetworks)
        for (file, text) in files {
            guard let root = YAMLTree.parse(text, file: file, into: &d) else { continue }
            if root.isNull { continue }
            guard let top = root.mapping("rule file", allowed: ["rules"], &d) else { continue }
            guard let list = top["rules"] else {
                d.append(Diagnostic(code: "missing_key", message: "rule file: missing \"rules\"", location: root.location))
                continue
            }
            if list.isNull { continue }
            guard let items = list.items else {
                d.append(Diagnostic(code: "expected_list", message: "rules: expected a list of rules", location: list.location))
                continue
            }
            for item in items {
                // Ids are checked for clashes even when the rule has other problems.
                var duplicate = false
                if let (_, _, idNode) = item.pairs?.first(where: { $0.key == "id" }), let id = idNode.scalar {
                    if let prev = seen[id] {
                        d.append(Diagnostic(code: "duplicate_rule", message: "rule id \(quoted(id)) is already defined at \(prev)", location: idNode.location))
                        duplicate = true
                    } else {
                        seen[id] = idNode.location
                    }
                }
                if let rule = loadRule(item, &loader, &d), !duplicate { rules.append(rule) }
            }
        }
        // A condition over findings naming no rule that exists would never hold.
        let ids = Set(seen.keys).union([Engine.stateEvictedRule])
        for ref in loader.ruleReferences where !ids.contains(ref.id) {
            d.append(Diagnostic(code: "unknown_rule", message: "\(ref.what): no rule has the id \(quoted(ref.id))\(suggestion(ref.id, ids.sorted()))",
                                location: ref.location))
        }
        // The engine tracks each request's pending deadlines in a 64-bit mask.
        let absences = rules.filter { if case .absence = $0.kind { true } else { false } }
        if absences.count > 64 {
            d.append(Diagnostic(code: "too_many_rules", message: "at most 64 rules of type absence, found \(absences.count)", location: absences[64].location))
        }
        // Like a folder without rule files: a set that detects nothing is
        // almost always a wrong path or an empty file, not an intent.
        if d.isEmpty, rules.isEmpty, let first = files.first {
            d.append(Diagnostic(code: "no_rules", message: "the rule files define no enabled rule, so nothing would be detected",
                                location: SourceLocation(file: first.0, line: 1, column: 1)))
        }
        guard d.isEmpty else { return .failure(LoadError(d)) }
        guard let business = config.businessCalendar() else {
            return .failure(LoadError([Diagnostic(code: "bad_timezone", message: "unknown time zone \(quoted(config.timezone))", location: nil)]))
        }
        return .success(RuleSet(rules: rules, calendars: CalendarBook(business: business, zones: loader.zones)))
    }

    static func loadRule(_ item: YAMLTree, _ cl: inout ConditionLoader, _ d: inout [Diagnostic]) -> Rule? {
        let before = d.count
        guard let m = item.mapping("rule", allowed: ruleKeys, &d) else { return nil }
        guard let idNode = m["id"], let id = idNode.string("id", &d) else {
            if m["id"] == nil { d.append(Diagnostic(code: "missing_key", message: "rule: missing \"id\"", location: item.location)) }
            return nil
        }
        if id.isEmpty || !id.allSatisfy({ idCharacters.contains($0) }) {
            d.append(Diagnostic(code: "bad_id", message: "rule id \(quoted(id)): use lower-case letters, digits, '_', '-' and '.'", location: idNode.location))
        }
        // A malformed id is shown escaped in every message about the rule.
        let what = "rule \(id.allSatisfy { idCharacters.contains($0) } ? id : quoted(id))"
        func need(_ key: String) -> YAMLTree? {
            if let v = m[key] { return v }
            d.append(Diagnostic(code: "missing_key", message: "\(what): missing \(quoted(key))", location: item.location))
            return nil
        }
        if let e = m["enabled"], e.bool("\(what).enabled", &d) == false { return nil }
        var severity = Severity.medium
        if let s = need("severity"), let name = s.string("\(what).severity", &d) {
            if let v = Severity(rawValue: name) { severity = v } else {
                d.append(Diagnostic(code: "bad_value", message: "\(what).severity: expected one of \(Severity.allCases.map(\.rawValue).joined(separator: ", ")), got \(quoted(name))", location: s.location))
            }
        }
        let description = m["description"].flatMap { $0.string("\(what).description", &d) } ?? ""
        let typeName = need("type").flatMap { $0.string("\(what).type", &d) } ?? ""
        let types = ["match", "threshold", "first_seen", "absence", "sequence"]
        if !typeName.isEmpty && !types.contains(typeName) {
            d.append(Diagnostic(code: "bad_value", message: "\(what).type: unknown rule type \(quoted(typeName))\(suggestion(typeName, types))", location: m["type"]!.location))
        }
        // Keys that only some types read are flagged where they would be silently ignored.
        let keysByType: [String: Set<String>] = [
            "match": ["when"],
            "threshold": ["when", "source", "group_by", "window", "count", "rearm"],
            "first_seen": ["when", "group_by", "values", "learn_from", "learning_period", "trusted_networks"],
            "absence": ["when", "expect", "within"],
            "sequence": ["when", "require"],
        ]
        if let allowed = keysByType[typeName] {
            let common: Set<String> = ["id", "severity", "description", "type", "summary", "enabled", "suppress"]
            for (k, loc, _) in item.pairs ?? [] where !common.contains(k) && !allowed.contains(k) && ruleKeys.contains(k) {
                d.append(Diagnostic(code: "unused_key", message: "\(what): \(quoted(k)) has no meaning for type \(typeName)", location: loc))
            }
        }
        let source = m["source"].flatMap { $0.string("\(what).source", &d) } ?? "events"
        cl.overFindings = typeName == "threshold" && source == "findings"
        defer { cl.overFindings = false }
        let when: Condition? = m["when"].map { cl.condition($0, "\(what).when", &d) } ?? .always
        var kind: Rule.Kind?
        switch typeName {
        case "match":
            if let when { kind = .match(when: when) }
        case "threshold":
            guard let src = Rule.Threshold.Source(rawValue: source) else {
                d.append(Diagnostic(code: "bad_value", message: "\(what).source: expected events or findings, got \(quoted(source))", location: m["source"]!.location))
                return nil
            }
            let group = need("group_by").flatMap { fieldRef($0, "\(what).group_by", &d) }
            let window = need("window").flatMap { $0.span("\(what).window", &d) }
            let count = need("count").flatMap { $0.int("\(what).count", min: 1, &d) }
            let rearm = m["rearm"].flatMap { $0.bool("\(what).rearm", &d) } ?? true
            if let when, let group, let window, let count {
                kind = .threshold(.init(source: src, when: when, groupBy: group, window: window, count: count, rearm: rearm))
            }
        case "first_seen":
            let group = need("group_by").flatMap { fieldRef($0, "\(what).group_by", &d) }
            var values: [FieldRef]?
            if let v = need("values"), let names = v.strings("\(what).values", &d) {
                values = names.compactMap { n in
                    if let r = FieldRef.parse(n), case .event = r { return r }
                    d.append(Diagnostic(code: "unknown_field", message: "\(what).values: unknown event field \(quoted(n))", location: v.location))
                    return nil
                }
            }
            let learn = m["learn_from"].map { cl.condition($0, "\(what).learn_from", &d) } ?? .always
            let period = m["learning_period"].map { $0.span("\(what).learning_period", &d) } ?? .zero
            let trusted = m["trusted_networks"].flatMap { $0.bool("\(what).trusted_networks", &d) } ?? true
            if let when, let group, let values, let learn, let period {
                kind = .firstSeen(.init(when: when, learnFrom: learn, groupBy: group, values: values, learningPeriod: period, trustedNetworks: trusted))
            }
        case "absence":
            let expect = need("expect").flatMap { eventKinds($0, "\(what).expect", &d) }
            let within = need("within").flatMap { $0.span("\(what).within", &d) }
            if let when, let expect, let within { kind = .absence(.init(start: when, expect: expect, within: within)) }
        case "sequence":
            if let r = need("require"), let rm = r.mapping("\(what).require", allowed: ["latest_of", "is", "unexpired"], &d) {
                let decisions = rm["latest_of"].flatMap { eventKinds($0, "\(what).require.latest_of", &d) }
                let mustBe = rm["is"].flatMap { eventKinds($0, "\(what).require.is", &d) }
                let unexpired = rm["unexpired"].flatMap { $0.bool("\(what).require.unexpired", &d) } ?? true
                if rm["latest_of"] == nil || rm["is"] == nil {
                    d.append(Diagnostic(code: "missing_key", message: "\(what).require: needs latest_of and is", location: r.location))
                }
                if let when, let decisions, let mustBe, mustBe.count == 1 {
                    kind = .sequence(.init(trigger: when, decisions: decisions.union(mustBe), mustBe: mustBe.first!, checkExpiry: unexpired))
                }
            }
        default: break
        }
        var summary = SummaryTemplate.parse("{rule}").successValue
        if let s = m["summary"], let text = s.string("\(what).summary", &d) {
            switch SummaryTemplate.parse(text) {
            case .success(let t): summary = t
            case .failure(let e):
                d.append(Diagnostic(code: "unknown_placeholder", message: "\(what).summary: unknown placeholder \(e.names.map { quoted("{\($0)}") }.joined(separator: ", "))", location: s.location))
            }
        } else {
            summary = SummaryTemplate.parse("\(id): {actor} {event} {request_id}").successValue
        }
        var suppression: Rule.Suppression?
        if let s = m["suppress"] {
            var defaultBy: FieldRef = .event(.actor)
            if case .threshold(let t)? = kind { defaultBy = t.groupBy }
            if s.scalar != nil {
                if let span = s.span("\(what).suppress", &d) { suppression = .init(span: span, by: defaultBy) }
            } else if let sm = s.mapping("\(what).suppress", allowed: ["for", "by"], &d) {
                let span = sm["for"].flatMap { $0.span("\(what).suppress.for", &d) }
                let by = sm["by"].flatMap { fieldRef($0, "\(what).suppress.by", &d) } ?? defaultBy
                if let span { suppression = .init(span: span, by: by) }
            }
        }
        guard d.count == before, let kind, let summary else { return nil }
        var h = StableHash()
        h.add((try? Yams.serialize(node: item.node)) ?? id)
        return Rule(id: id, severity: severity, description: description, summary: summary, kind: kind,
                    suppression: suppression, location: idNode.location, fingerprint: String(h.value, radix: 16))
    }

    static func fieldRef(_ v: YAMLTree, _ what: String, _ d: inout [Diagnostic]) -> FieldRef? {
        guard let s = v.string(what, &d) else { return nil }
        guard let r = FieldRef.parse(s) else {
            d.append(Diagnostic(code: "unknown_field", message: "\(what): unknown field \(quoted(s))\(suggestion(s, FieldRef.allNames))", location: v.location))
            return nil
        }
        return r
    }

    static func eventKinds(_ v: YAMLTree, _ what: String, _ d: inout [Diagnostic]) -> Set<EventKind>? {
        guard let names = v.strings(what, &d) else { return nil }
        var out = Set<EventKind>()
        for n in names {
            guard let k = EventKind(name: n) else {
                d.append(Diagnostic(code: "bad_value", message: "\(what): \(quoted(n)) is not an event type (\(EventKind.allCases.map(\.description).joined(separator: ", ")))", location: v.location))
                return nil
            }
            out.insert(k)
        }
        return out
    }
}

extension Result {
    var successValue: Success? {
        if case .success(let v) = self { return v }
        return nil
    }
}
