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
        let (config, settings, problems) = settingsKeepingWhatLoaded(path, optional: optional)
        return problems.isEmpty ? .success((config, settings)) : .failure(LoadError(problems))
    }

    /// `settings`, with what loaded despite the problems (see
    /// ``DaemonSettingsLoader/loadKeepingWhatLoaded(_:file:)``).
    static func settingsKeepingWhatLoaded(_ path: String?, optional: Bool) -> (EngineConfig, DaemonSettings, [Diagnostic]) {
        guard let path else { return (EngineConfig(), DaemonSettings(), []) }
        guard FileManager.default.fileExists(atPath: path) else {
            if optional { return (EngineConfig(), DaemonSettings(), []) }
            return (EngineConfig(), DaemonSettings(),
                    [Diagnostic(code: "not_found", message: "no such configuration file", location: SourceLocation(file: path, line: 1, column: 1))])
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return (EngineConfig(), DaemonSettings(),
                    [Diagnostic(code: "unreadable", message: "cannot read the file (or it is not UTF-8)", location: SourceLocation(file: path, line: 1, column: 1))])
        }
        return DaemonSettingsLoader.loadKeepingWhatLoaded(text, file: path)
    }

    /// The engine half of `settings`.
    public static func config(_ path: String?, optional: Bool = false) -> Result<EngineConfig, LoadError> {
        settings(path, optional: optional).map(\.0)
    }

    /// The socket's user and group names this host does not know, located.
    public static func unknownAccounts(_ socket: DaemonSettings.SocketSettings) -> [Diagnostic] {
        socket.accounts.compactMap { a in
            let known = a.isGroup ? PeerPolicy.gid(named: a.name) != nil : PeerPolicy.uid(named: a.name) != nil
            return known ? nil : Diagnostic(code: "unknown_account", message: "\(a.key): no such \(a.isGroup ? "group" : "user") \(quotedName(a.name)) on this host",
                                            location: a.location)
        }
    }

    private static func quotedName(_ s: String) -> String { "\"" + s.unicodeScalars.map { $0.isASCII && $0.value >= 32 && $0.value != 127 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined() + "\"" }

    /// What `check`, `replay` and `run` all load: the configuration file
    /// (nil: the defaults; `optional`: the defaults when it does not exist),
    /// its socket accounts resolved, and the rules named by `rulePaths`, else
    /// by the file's `rules:`, else the built-in ones. Every problem of the
    /// file and of the rules is reported, not only the first file's: the
    /// rules are read against the defaults when the file has errors.
    public static func load(configPath: String?, optional: Bool = false, rulePaths: [String],
                            resolveAccounts: Bool = false) -> Result<(EngineConfig, DaemonSettings, RuleSet), LoadError> {
        var (config, settings, problems) = settingsKeepingWhatLoaded(configPath, optional: optional)
        if resolveAccounts { problems += unknownAccounts(settings.socket) }
        let paths = rulePaths.isEmpty ? settings.rules : rulePaths
        switch RuleSources.ruleSet(rulePaths: paths, config: config) {
        case .success(let rules): if problems.isEmpty { return .success((config, settings, rules)) }
        case .failure(let e): problems += e.diagnostics
        }
        return .failure(LoadError(problems))
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
