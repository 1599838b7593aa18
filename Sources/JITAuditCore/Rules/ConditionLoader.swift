/// Reads `when:` blocks: a mapping whose entries must all hold.
struct ConditionLoader {
    var trustedNetworks: [CIDR]
    /// Zones named in `time:` conditions, collected for the calendar book.
    var zones: [String: ZoneOffsets] = [:]
    /// Whether the rule reads findings (`rule`, `severity`) rather than events.
    var overFindings = false
    /// Rule ids that conditions over findings name (`rule: [...]`), with
    /// where: checked against the loaded rules once all are read, since a
    /// misspelt id would silently match nothing.
    var ruleReferences: [(id: String, location: SourceLocation, what: String)] = []

    static let operators = ["in", "not_in", "equals", "same_as", "not_same_as", "exists", "blank", "shorter_than",
                            "longer_than", "glob", "in_networks", "less_than", "at_least", "ignore_case"]

    mutating func condition(_ v: YAMLTree, _ what: String, _ d: inout [Diagnostic]) -> Condition? {
        if v.isNull { return .always }
        guard let pairs = v.pairs else {
            d.append(Diagnostic(code: "expected_mapping", message: "\(what): expected a mapping of field tests, got a \(v.kindName)", location: v.location))
            return nil
        }
        var parts: [Condition] = []
        var ok = true
        for (key, keyLoc, value) in pairs {
            switch key {
            case "any", "all":
                guard let items = value.items, !items.isEmpty else {
                    d.append(Diagnostic(code: "expected_list", message: "\(what).\(key): expected a non-empty list of tests", location: value.location))
                    ok = false; continue
                }
                var subs: [Condition] = []
                for it in items { if let c = condition(it, "\(what).\(key)", &d) { subs.append(c) } else { ok = false } }
                parts.append(key == "any" ? .any(subs) : .all(subs))
            case "not":
                if let c = condition(value, "\(what).not", &d) { parts.append(.not(c)) } else { ok = false }
            case "time":
                if let t = time(value, "\(what).time", &d) { parts.append(.time(t)) } else { ok = false }
            default:
                guard let ref = FieldRef.parse(key), overFindings || (ref != .findingRule && ref != .findingSeverity) else {
                    let names = overFindings ? ["rule", "severity", "actor", "request_id"] : FieldRef.allNames + ["any", "all", "not", "time"]
                    d.append(Diagnostic(code: "unknown_field", message: "\(what): unknown field \(quoted(key))\(suggestion(key, names))", location: keyLoc))
                    ok = false; continue
                }
                if let c = fieldTest(ref, value, "\(what).\(key)", &d) { parts.append(c) } else { ok = false }
            }
        }
        guard ok else { return nil }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    /// Allowed values for enumerated fields, to catch typos at load time.
    func allowedValues(_ ref: FieldRef) -> [String]? {
        switch ref {
        case .event(.event), .request(.event): EventKind.allCases.map(\.description)
        case .event(.priority), .request(.priority): Priority.allCases.map(\.description)
        case .event(.outcome), .request(.outcome): Outcome.allCases.map(\.description)
        case .findingSeverity: Severity.allCases.map(\.rawValue)
        default: nil
        }
    }

    func normalise(_ values: [String], _ ref: FieldRef, ignoreCase: Bool, _ loc: SourceLocation, _ what: String, _ d: inout [Diagnostic]) -> [String]? {
        if let allowed = allowedValues(ref) {
            for v in values where !allowed.contains(v) {
                d.append(Diagnostic(code: "bad_value", message: "\(what): \(quoted(v)) is not one of \(allowed.joined(separator: ", "))", location: loc))
                return nil
            }
        }
        return values.map { v in
            if ref.isIdentity { return Identity.key(v) }
            if case .event(.source_ip) = ref, let ip = IPAddress(v) { return ip.description }
            if case .request(.source_ip) = ref, let ip = IPAddress(v) { return ip.description }
            if ignoreCase { return String(v.trimmingWhitespace).lowercased() }
            return v
        }
    }

    mutating func fieldTest(_ ref: FieldRef, _ v: YAMLTree, _ what: String, _ d: inout [Diagnostic]) -> Condition? {
        if v.scalar != nil || v.items != nil {
            guard let values = v.strings(what, &d), let n = normalise(values, ref, ignoreCase: false, v.location, what, &d) else { return nil }
            if ref == .findingRule { ruleReferences += values.map { ($0, v.location, what) } }
            if ref == .event(.event) { return .kinds(n) }
            return .field(ref, .oneOf(n, ignoreCase: false))
        }
        guard let m = v.mapping(what, allowed: ConditionLoader.operators, &d) else { return nil }
        var ignoreCase = false
        if let ic = m["ignore_case"] { ignoreCase = ic.bool("\(what).ignore_case", &d) ?? false }
        var tests: [Condition] = []
        var ok = true
        for (op, node) in m.sorted(by: { $0.key < $1.key }) where op != "ignore_case" {
            let w = "\(what).\(op)"
            var p: Predicate?
            switch op {
            case "in", "equals", "not_in":
                if let vs = node.strings(w, &d), let n = normalise(vs, ref, ignoreCase: ignoreCase, node.location, w, &d) {
                    if ref == .findingRule { ruleReferences += vs.map { ($0, node.location, w) } }
                    p = op == "not_in" ? .noneOf(n, ignoreCase: ignoreCase) : .oneOf(n, ignoreCase: ignoreCase)
                }
            case "same_as", "not_same_as":
                if let s = node.string(w, &d) {
                    if let other = FieldRef.parse(s) { p = op == "same_as" ? .sameAs(other) : .differentFrom(other) }
                    else { d.append(Diagnostic(code: "unknown_field", message: "\(w): unknown field \(quoted(s))", location: node.location)) }
                }
            case "exists": if let b = node.bool(w, &d) { p = .exists(b) }
            case "blank": if let b = node.bool(w, &d) { p = .blank(b) }
            case "shorter_than": if let n = node.int(w, min: 0, &d) { p = .shorterThan(n) }
            case "longer_than": if let n = node.int(w, min: 0, &d) { p = .longerThan(n) }
            case "glob":
                if let vs = node.strings(w, &d) { p = .glob(vs.map { GlobPattern(ignoreCase ? $0.lowercased() : $0) }, ignoreCase: ignoreCase) }
            case "in_networks":
                if let vs = node.strings(w, &d) {
                    var nets: [CIDR] = []
                    for s in vs {
                        if s == "trusted_networks" { nets += trustedNetworks }
                        else if let problem = CIDR.hostBitsProblem(s) {
                            d.append(Diagnostic(code: "bad_cidr", message: "\(w): \(problem)", location: node.location))
                        } else if let c = CIDR(s) { nets.append(c) }
                        else { d.append(Diagnostic(code: "bad_cidr", message: "\(w): expected a CIDR or trusted_networks, got \(quoted(s))", location: node.location)) }
                    }
                    p = .inNetworks(nets)
                }
            case "less_than", "at_least":
                if let s = node.span(w, &d) { p = op == "less_than" ? .lessThan(s) : .atLeast(s) }
            default: break
            }
            if let p { tests.append(.field(ref, p)) } else { ok = false }
        }
        guard ok else { return nil }
        if tests.isEmpty {
            d.append(Diagnostic(code: "empty_test", message: "\(what): no test given", location: v.location))
            return nil
        }
        return tests.count == 1 ? tests[0] : .all(tests)
    }

    mutating func time(_ v: YAMLTree, _ what: String, _ d: inout [Diagnostic]) -> TimeCondition? {
        if let s = v.scalar {
            switch s {
            case "off_hours": return .offHours
            case "business_hours": return .businessHours
            default:
                d.append(Diagnostic(code: "bad_value", message: "\(what): expected off_hours, business_hours or {between: [HH:MM, HH:MM]}, got \(quoted(s))", location: v.location))
                return nil
            }
        }
        guard let m = v.mapping(what, allowed: ["between", "timezone", "days"], &d) else { return nil }
        // Each key is checked whatever the others hold, so one run reports all.
        var ok = true
        var span: (Int, Int)?
        if let b = m["between"] {
            if let ends = b.strings("\(what).between", &d) {
                if ends.count == 2, let start = ConfigLoader.parseClock(ends[0]), let end = ConfigLoader.parseClock(ends[1]) {
                    span = (start, end)
                } else {
                    d.append(Diagnostic(code: "bad_time", message: "\(what).between: expected [HH:MM, HH:MM]", location: b.location))
                }
            }
        } else {
            d.append(Diagnostic(code: "missing_key", message: "\(what): missing \"between\"", location: v.location))
        }
        var zone: String?
        if let z = m["timezone"] {
            if let name = z.string("\(what).timezone", &d) {
                if let offsets = ZoneOffsets(identifier: name) {
                    zones[name] = offsets
                    zone = name
                } else {
                    d.append(Diagnostic(code: "bad_timezone", message: "\(what).timezone: unknown IANA time zone \(quoted(name))", location: z.location))
                    ok = false
                }
            } else { ok = false }
        }
        var days: Set<Int> = [1, 2, 3, 4, 5, 6, 7]
        if let dn = m["days"] {
            if let parsed = ConfigLoader.parseWeekdays(dn, "\(what).days", &d) { days = parsed } else { ok = false }
        }
        guard ok, let (start, end) = span else { return nil }
        return .between(startMinute: start, endMinute: end, weekdays: days, zone: zone)
    }
}
