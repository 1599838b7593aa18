import Foundation
import JITAuditCore

/// Reads rule and configuration files from disk and hands them to the pure loaders.
public enum RuleSources {
    /// The texts of `paths`: files as given, folders expanded to their `*.yaml`/`*.yml` files
    /// in name order. Unreadable paths become located diagnostics.
    public static func read(_ paths: [String]) -> Result<[(String, String)], LoadError> {
        var out: [(String, String)] = []
        var d: [Diagnostic] = []
        let fm = FileManager.default
        for path in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
                d.append(Diagnostic(code: "not_found", message: "no such file or folder", location: SourceLocation(file: path, line: 1, column: 1)))
                continue
            }
            var files = [path]
            if isDir.boolValue {
                let names = (try? fm.contentsOfDirectory(atPath: path)) ?? []
                files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { path + "/" + $0 }
                if files.isEmpty {
                    d.append(Diagnostic(code: "no_rules", message: "folder holds no .yaml rule files", location: SourceLocation(file: path, line: 1, column: 1)))
                }
            }
            for f in files {
                guard let data = fm.contents(atPath: f), let text = String(data: data, encoding: .utf8) else {
                    d.append(Diagnostic(code: "unreadable", message: "cannot read the file (or it is not UTF-8)", location: SourceLocation(file: f, line: 1, column: 1)))
                    continue
                }
                out.append((f, text))
            }
        }
        return d.isEmpty ? .success(out) : .failure(LoadError(d))
    }

    /// Loads the configuration file at `path` (engine and daemon keys), or the
    /// defaults when `path` is nil, or when `optional` and the file does not exist.
    public static func settings(_ path: String?, optional: Bool = false) -> Result<(EngineConfig, DaemonSettings), LoadError> {
        guard let path else { return .success((EngineConfig(), DaemonSettings())) }
        guard FileManager.default.fileExists(atPath: path) else {
            if optional { return .success((EngineConfig(), DaemonSettings())) }
            return .failure(LoadError([Diagnostic(code: "not_found", message: "no such configuration file", location: SourceLocation(file: path, line: 1, column: 1))]))
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return .failure(LoadError([Diagnostic(code: "unreadable", message: "cannot read the file (or it is not UTF-8)", location: SourceLocation(file: path, line: 1, column: 1))]))
        }
        return DaemonSettingsLoader.load(text, file: path)
    }

    /// The engine half of `settings`.
    public static func config(_ path: String?, optional: Bool = false) -> Result<EngineConfig, LoadError> {
        settings(path, optional: optional).map(\.0)
    }

    /// Config plus rules: the built-in defaults when `rulePaths` is empty.
    public static func ruleSet(rulePaths: [String], config: EngineConfig) -> Result<RuleSet, LoadError> {
        if rulePaths.isEmpty { return RuleLoader.load([(DefaultRules.fileName, DefaultRules.yaml)], config: config) }
        switch read(rulePaths) {
        case .failure(let e): return .failure(e)
        case .success(let files): return RuleLoader.load(files, config: config)
        }
    }
}
