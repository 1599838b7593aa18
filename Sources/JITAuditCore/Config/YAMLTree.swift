import Yams

/// A YAML node with the file it came from, and helpers that record located
/// diagnostics instead of stopping at the first problem.
struct YAMLTree {
    let node: Node
    let file: String

    var location: SourceLocation {
        let m = node.mark
        return SourceLocation(file: file, line: m?.line ?? 1, column: m?.column ?? 1)
    }

    static func parse(_ text: String, file: String, into d: inout [Diagnostic]) -> YAMLTree? {
        do {
            guard let node = try Yams.compose(yaml: text) else { return nil }
            return YAMLTree(node: node, file: file)
        } catch let error as YamlError {
            var loc = SourceLocation(file: file, line: 1, column: 1)
            var message = "\(error)"
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                loc = SourceLocation(file: file, line: mark.line, column: mark.column)
                message = problem
            case .reader(let problem, let offset, _, _):
                // Bad bytes (control characters, invalid UTF-8): Yams's own text quotes
                // the raw line, so locate it ourselves and keep the message one line.
                if let offset { loc = location(ofCharacter: offset, in: text, file: file) }
                message = problem
            case .duplicatedKeysInMapping(let dups, let context):
                // Yams marks the key's first occurrence; the mistake is the repeat.
                let first = SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
                loc = dups.first.flatMap { repeatOf(key: $0, after: first, in: text) } ?? first
                message = "duplicate key \(dups.map { quoted($0) }.joined(separator: ", ")) in mapping"
                    + (loc != first ? " (first at line \(first.line))" : "")
            default: break
            }
            d.append(Diagnostic(code: "yaml_syntax", message: "YAML: \(message)", location: loc))
            return nil
        } catch {
            d.append(Diagnostic(code: "yaml_syntax", message: "YAML: \(error)", location: SourceLocation(file: file, line: 1, column: 1)))
            return nil
        }
    }

    /// Where `key`, first written at `first` in a block mapping, is written
    /// again in that mapping: the next line that has it at the same column,
    /// before a line indented less ends the mapping. Nil when not found
    /// (a flow mapping, `{a: 1, a: 2}`, keeps the first location).
    static func repeatOf(key: String, after first: SourceLocation, in text: String) -> SourceLocation? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = first.column - 1
        guard first.line >= 1, first.line < lines.count else { return nil }
        for (k, line) in lines.enumerated().dropFirst(first.line) {
            let scalars = Array(line.unicodeScalars)
            let lead = scalars.prefix { $0 == " " }.count
            let rest = String(String.UnicodeScalarView(scalars[lead...])).trimmingWhitespace
            if rest.isEmpty || rest.hasPrefix("#") { continue }
            if lead < indent { return nil }
            guard lead == indent else { continue }
            for spelling in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(spelling) {
                let after = rest.dropFirst(spelling.count).drop { $0 == " " }
                if after.hasPrefix(":") { return SourceLocation(file: first.file, line: k + 1, column: first.column) }
            }
        }
        return nil
    }

    /// Line and column (1-based, columns in Unicode scalars as Yams counts them) of the character at `offset`.
    static func location(ofCharacter offset: Int, in text: String, file: String) -> SourceLocation {
        var line = 1, column = 1
        for c in text.prefix(offset) {
            if c.isNewline { line += 1; column = 1 } else { column += c.unicodeScalars.count }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    var scalar: String? {
        if case .scalar(let s) = node { return s.string }
        return nil
    }

    /// Key/value pairs of a mapping, with the key's location.
    var pairs: [(key: String, keyLocation: SourceLocation, value: YAMLTree)]? {
        guard case .mapping(let m) = node else { return nil }
        return m.map { k, v in
            (k.string ?? "\(k)", SourceLocation(file: file, line: k.mark?.line ?? 1, column: k.mark?.column ?? 1), YAMLTree(node: v, file: file))
        }
    }

    var items: [YAMLTree]? {
        guard case .sequence(let s) = node else { return nil }
        return s.map { YAMLTree(node: $0, file: file) }
    }

    var isNull: Bool {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) { return true }
        return false
    }

    /// A scalar or a list of scalars, as strings.
    func strings(_ what: String, _ d: inout [Diagnostic]) -> [String]? {
        if let s = scalar { return [s] }
        if let items {
            var out: [String] = []
            for it in items {
                guard let s = it.scalar else {
                    d.append(Diagnostic(code: "expected_scalar", message: "\(what): expected a value, got a \(it.kindName)", location: it.location))
                    return nil
                }
                out.append(s)
            }
            return out
        }
        d.append(Diagnostic(code: "expected_list", message: "\(what): expected a value or a list, got a \(kindName)", location: location))
        return nil
    }

    var kindName: String {
        switch node {
        case .scalar: "value"
        case .mapping: "mapping"
        case .sequence: "list"
        case .alias: "alias"
        }
    }

    func string(_ what: String, _ d: inout [Diagnostic]) -> String? {
        guard let s = scalar else {
            d.append(Diagnostic(code: "expected_scalar", message: "\(what): expected a value, got a \(kindName)", location: location))
            return nil
        }
        return s
    }

    func span(_ what: String, _ d: inout [Diagnostic]) -> TimeSpan? {
        guard let s = string(what, &d) else { return nil }
        guard let v = TimeSpan(parsing: s) else {
            d.append(Diagnostic(code: "bad_duration", message: "\(what): expected a duration such as 30s, 60m, 4h or 7d, got \(quoted(s))", location: location))
            return nil
        }
        return v
    }

    /// A duration longer than zero (an interval: zero would mean "all the time").
    func positiveSpan(_ what: String, _ d: inout [Diagnostic]) -> TimeSpan? {
        guard let v = span(what, &d) else { return nil }
        guard v.micros > 0 else {
            d.append(Diagnostic(code: "bad_duration", message: "\(what): expected a duration longer than zero, got \(quoted(scalar ?? ""))", location: location))
            return nil
        }
        return v
    }

    func int(_ what: String, min: Int, max: Int = Int.max, _ d: inout [Diagnostic]) -> Int? {
        guard let s = string(what, &d) else { return nil }
        guard let v = Int(s), v >= min, v <= max else {
            d.append(Diagnostic(code: "bad_number", message: "\(what): expected a whole number from \(min)\(max == Int.max ? "" : " to \(max)"), got \(quoted(s))", location: location))
            return nil
        }
        return v
    }

    func bool(_ what: String, _ d: inout [Diagnostic]) -> Bool? {
        guard let s = string(what, &d) else { return nil }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            d.append(Diagnostic(code: "bad_boolean", message: "\(what): expected true or false, got \(quoted(s))", location: location))
            return nil
        }
    }

    /// Reads a mapping, reporting keys not in `allowed` (with the closest known key).
    func mapping(_ what: String, allowed: [String], _ d: inout [Diagnostic]) -> [String: YAMLTree]? {
        guard let pairs else {
            d.append(Diagnostic(code: "expected_mapping", message: "\(what): expected a mapping, got a \(kindName)", location: location))
            return nil
        }
        var out: [String: YAMLTree] = [:]
        for (k, loc, v) in pairs {
            if !allowed.contains(k) {
                d.append(Diagnostic(code: "unknown_key", message: "\(what): unknown key \(quoted(k))\(suggestion(k, allowed))", location: loc))
                continue
            }
            out[k] = v
        }
        return out
    }
}

/// ", did you mean "x"?" for a near miss, else a list of what is allowed.
func suggestion(_ word: String, _ allowed: [String]) -> String {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var prev = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var cur = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                cur[j + 1] = Swift.min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca == cb ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
    let w = Array(word)
    if let best = allowed.min(by: { distance(w, Array($0)) < distance(w, Array($1)) }), distance(w, Array(best)) <= 2 {
        return ", did you mean \(quoted(best))?"
    }
    return " (expected one of: \(allowed.joined(separator: ", ")))"
}
