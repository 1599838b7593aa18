/// `jitaudit run` settings from the configuration file, beside the engine's.
/// Pure data and validation; the daemon target acts on them.
public struct DaemonSettings: Sendable {
    /// SQLite database; nil means `$STATE_DIRECTORY/jitaudit.db`, else `./jitaudit.db`.
    public var database: String?
    /// Rule files or folders; empty means the built-in default rules.
    public var rules: [String] = []
    /// Files and globs to tail.
    public var files: [String] = []
    public var pollInterval: TimeSpan = .milliseconds(250)
    public var inotify = true
    public var rotateWait: TimeSpan = .seconds(5)
    public var globInterval: TimeSpan = .seconds(2)
    public var maxBatchLines = 4096
    public var socket = SocketSettings()
    public var sinks = SinkSettings()
    /// How often `STATUS=` and the status log line are refreshed.
    public var statusInterval: TimeSpan = .seconds(10)
    /// How often the engine state is snapshotted into the database.
    public var snapshotInterval: TimeSpan = .seconds(30)
    /// Audit-log rows older than this are pruned (nil: kept forever).
    public var retention: TimeSpan?

    public struct SocketSettings: Sendable {
        /// Path to bind when not socket-activated; nil disables the socket (unless activated).
        public var path: String? = "/run/jitaudit/jitaudit.sock"
        public var mode: UInt32 = 0o660
        public var owner: String?
        public var group: String?
        /// Peers allowed by credentials (user and group names or numeric ids);
        /// the daemon's own uid and root are always allowed.
        public var allowedUsers: [String] = []
        public var allowedGroups: [String] = []
        public var maxConnections = 256
        public var idleTimeout: TimeSpan = .seconds(60)
        public var partialLineTimeout: TimeSpan = .seconds(30)
        public var shutdownGrace: TimeSpan = .seconds(2)
        /// Every user and group name above with where it was written, so
        /// that a name this host does not know is reported at its place
        /// (the loader reads no account database: it does no I/O).
        public var accounts: [Account] = []
        public init() {}

        public struct Account: Sendable {
            public var key: String
            public var name: String
            public var isGroup: Bool
            public var location: SourceLocation
        }
    }

    public struct SinkSettings: Sendable {
        public enum StdoutFormat: String, Sendable { case json, text, off }
        public var stdout: StdoutFormat = .off
        /// Off by default: on a systemd host /dev/log leads to journald, so both
        /// sinks would log every finding twice. Turn it on to feed rsyslog.
        public var syslog = false
        public var syslogFacility = "authpriv"
        public var journal = true
        /// Findings each sink may hold before it drops (counted).
        public var queueCapacity = 4096
        public init() {}
    }

    public init() {}

    /// The keys whose values differ between `self` (running) and `new`,
    /// among those only a start applies (everything here but `rules`, which
    /// a reload applies, and `line_limit`, which the sources apply as they
    /// frame lines: compared by the caller).
    public func keysNeedingARestart(_ new: DaemonSettings) -> [String] {
        var out: [String] = []
        func check<T: Equatable>(_ key: String, _ a: T, _ b: T) { if a != b { out.append(key) } }
        check("database", database, new.database)
        check("sources.files", files, new.files)
        check("sources.poll_interval", pollInterval, new.pollInterval)
        check("sources.inotify", inotify, new.inotify)
        check("sources.rotate_wait", rotateWait, new.rotateWait)
        check("sources.glob_interval", globInterval, new.globInterval)
        check("sources.max_batch_lines", maxBatchLines, new.maxBatchLines)
        let (a, b) = (socket, new.socket)
        check("sources.socket.path", a.path, b.path)
        check("sources.socket.mode", a.mode, b.mode)
        check("sources.socket.owner", a.owner, b.owner)
        check("sources.socket.group", a.group, b.group)
        check("sources.socket.allowed_uids", a.allowedUsers, b.allowedUsers)
        check("sources.socket.allowed_gids", a.allowedGroups, b.allowedGroups)
        check("sources.socket.max_connections", a.maxConnections, b.maxConnections)
        check("sources.socket.idle_timeout", a.idleTimeout, b.idleTimeout)
        check("sources.socket.partial_line_timeout", a.partialLineTimeout, b.partialLineTimeout)
        check("sources.socket.shutdown_grace", a.shutdownGrace, b.shutdownGrace)
        check("sinks.stdout", sinks.stdout, new.sinks.stdout)
        check("sinks.syslog", sinks.syslog, new.sinks.syslog)
        check("sinks.syslog.facility", sinks.syslogFacility, new.sinks.syslogFacility)
        check("sinks.journal", sinks.journal, new.sinks.journal)
        check("sinks.queue_capacity", sinks.queueCapacity, new.sinks.queueCapacity)
        check("status_interval", statusInterval, new.statusInterval)
        check("snapshot_interval", snapshotInterval, new.snapshotInterval)
        check("retention", retention, new.retention)
        return out
    }
}

extension TimeSpan {
    public static func milliseconds(_ ms: Int64) -> TimeSpan { TimeSpan(micros: ms * 1000) }
}

/// Loads the daemon part of the configuration file.
public enum DaemonSettingsLoader {
    public static let keys = ["database", "rules", "sources", "sinks", "status_interval", "snapshot_interval", "retention"]
    static let facilities = ["auth", "authpriv", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]

    /// Both halves of a configuration file: the engine's keys and the daemon's.
    public static func load(_ text: String, file: String) -> Result<(EngineConfig, DaemonSettings), LoadError> {
        let (e, s, d) = loadKeepingWhatLoaded(text, file: file)
        return d.isEmpty ? .success((e, s)) : .failure(LoadError(d))
    }

    /// Every problem of the file, and what loaded all the same (the engine
    /// half's defaults when it has a problem; each daemon key that loaded):
    /// `check` goes on to the rules the file names and to its socket's
    /// accounts, so that one run reports everything.
    public static func loadKeepingWhatLoaded(_ text: String, file: String) -> (EngineConfig, DaemonSettings, [Diagnostic]) {
        var d: [Diagnostic] = []
        let engine = ConfigLoader.load(text, file: file, otherKeys: keys)
        if case .failure(let e) = engine { d += e.diagnostics }
        var s = DaemonSettings()
        if let root = YAMLTree.parse(text, file: file, into: &d), !root.isNull, let m = root.pairs {
            let top = Dictionary(m.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if let v = top["database"], let p = v.string("database", &d) { s.database = p }
            if let v = top["rules"], !v.isNull, let ps = v.strings("rules", &d) { s.rules = ps }
            if let v = top["status_interval"], let t = v.positiveSpan("status_interval", &d) { s.statusInterval = t }
            if let v = top["snapshot_interval"], let t = v.positiveSpan("snapshot_interval", &d) { s.snapshotInterval = t }
            if let v = top["retention"], let t = v.span("retention", &d) { s.retention = t }
            if let v = top["sources"], let src = v.mapping("sources", allowed: ["files", "poll_interval", "inotify", "rotate_wait", "glob_interval", "max_batch_lines", "socket"], &d) {
                if let f = src["files"], !f.isNull, let ps = f.strings("sources.files", &d) { s.files = ps }
                if let p = src["poll_interval"], let t = p.span("sources.poll_interval", &d) { s.pollInterval = t }
                if let p = src["inotify"], let b = p.bool("sources.inotify", &d) { s.inotify = b }
                if let p = src["rotate_wait"], let t = p.span("sources.rotate_wait", &d) { s.rotateWait = t }
                if let p = src["glob_interval"], let t = p.span("sources.glob_interval", &d) { s.globInterval = t }
                if let p = src["max_batch_lines"], let n = p.int("sources.max_batch_lines", min: 1, max: 1 << 20, &d) { s.maxBatchLines = n }
                if let sock = src["socket"] {
                    if sock.scalar.map({ ["false", "off", "no"].contains($0) }) == true { s.socket.path = nil } else {
                        loadSocket(sock, &s.socket, &d)
                    }
                }
            }
            if let v = top["sinks"], let sk = v.mapping("sinks", allowed: ["stdout", "syslog", "journal", "queue_capacity"], &d) {
                if let o = sk["stdout"], let f = o.string("sinks.stdout", &d) {
                    if let fmt = DaemonSettings.SinkSettings.StdoutFormat(rawValue: f) { s.sinks.stdout = fmt } else {
                        d.append(Diagnostic(code: "bad_value", message: "sinks.stdout: expected json, text or off, got \(quoted(f))", location: o.location))
                    }
                }
                if let j = sk["journal"], let b = j.bool("sinks.journal", &d) { s.sinks.journal = b }
                if let q = sk["queue_capacity"], let n = q.int("sinks.queue_capacity", min: 1, max: 1 << 24, &d) { s.sinks.queueCapacity = n }
                if let y = sk["syslog"] {
                    if y.scalar != nil { if let b = y.bool("sinks.syslog", &d) { s.sinks.syslog = b } } else if let ym = y.mapping("sinks.syslog", allowed: ["enabled", "facility"], &d) {
                        if let e = ym["enabled"], let b = e.bool("sinks.syslog.enabled", &d) { s.sinks.syslog = b }
                        if let f = ym["facility"], let name = f.string("sinks.syslog.facility", &d) {
                            if facilities.contains(name) { s.sinks.syslogFacility = name } else {
                                d.append(Diagnostic(code: "bad_value", message: "sinks.syslog.facility: expected one of \(facilities.joined(separator: ", ")), got \(quoted(name))", location: f.location))
                            }
                        }
                    }
                }
            }
        }
        guard d.isEmpty, case .success(let e) = engine else { return (EngineConfig(), s, uniqued(d)) }
        return (e, s, [])
    }

    static func loadSocket(_ v: YAMLTree, _ s: inout DaemonSettings.SocketSettings, _ d: inout [Diagnostic]) {
        guard let m = v.mapping("sources.socket", allowed: ["path", "mode", "owner", "group", "allowed_uids", "allowed_gids", "max_connections", "idle_timeout", "partial_line_timeout", "shutdown_grace"], &d) else { return }
        if let p = m["path"], let path = p.string("sources.socket.path", &d) {
            if path.hasPrefix("/") { s.path = path } else {
                d.append(Diagnostic(code: "bad_path", message: "sources.socket.path: expected an absolute path, got \(quoted(path))", location: p.location))
            }
        }
        if let p = m["mode"], let text = p.string("sources.socket.mode", &d) {
            if let mode = UInt32(text, radix: 8), mode <= 0o777 { s.mode = mode } else {
                d.append(Diagnostic(code: "bad_mode", message: "sources.socket.mode: expected an octal mode such as \"0660\", got \(quoted(text))", location: p.location))
            }
        }
        if let p = m["owner"], !p.isNull, let o = p.string("sources.socket.owner", &d) {
            s.owner = o
            s.accounts.append(.init(key: "sources.socket.owner", name: o, isGroup: false, location: p.location))
        }
        if let p = m["group"], !p.isNull, let g = p.string("sources.socket.group", &d) {
            s.group = g
            s.accounts.append(.init(key: "sources.socket.group", name: g, isGroup: true, location: p.location))
        }
        if let p = m["partial_line_timeout"], let t = p.span("sources.socket.partial_line_timeout", &d) { s.partialLineTimeout = t }
        if let p = m["shutdown_grace"], let t = p.span("sources.socket.shutdown_grace", &d) { s.shutdownGrace = t }
        if let p = m["allowed_uids"], !p.isNull, let items = p.strings("sources.socket.allowed_uids", &d) {
            s.allowedUsers = items
            for (k, u) in items.enumerated() {
                s.accounts.append(.init(key: "sources.socket.allowed_uids", name: u, isGroup: false, location: p.items?[k].location ?? p.location))
            }
        }
        if let p = m["allowed_gids"], !p.isNull, let items = p.strings("sources.socket.allowed_gids", &d) {
            s.allowedGroups = items
            for (k, g) in items.enumerated() {
                s.accounts.append(.init(key: "sources.socket.allowed_gids", name: g, isGroup: true, location: p.items?[k].location ?? p.location))
            }
        }
        if let p = m["max_connections"], let n = p.int("sources.socket.max_connections", min: 1, max: 65_536, &d) { s.maxConnections = n }
        if let p = m["idle_timeout"], let t = p.span("sources.socket.idle_timeout", &d) { s.idleTimeout = t }
    }

    /// The YAML syntax error is found by both halves; report it once.
    static func uniqued(_ d: [Diagnostic]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        return d.filter { seen.insert($0).inserted }
    }
}
