import Foundation
import JITAuditDaemon
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Helpers of the adversarial end-to-end tests (AdversarialTests.swift): raw
// socket clients that misbehave, a daemon with a whole config of its own,
// the well-behaved client whose events must all arrive, /proc readings, and
// commands run as another user.

extension Daemon {
    /// A daemon whose configuration is `body` plus its database and intervals
    /// (and findings as JSON on stdout when `body` has no `sinks:`);
    /// `DIR` in `body` stands for its temporary directory (the socket is `DIR/jitaudit.sock`).
    static func configured(_ body: String, launcher: [String] = [], prepare: (URL) throws -> Void = { _ in }) throws -> Daemon {
        let dir = try temporaryDirectory()
        try prepare(dir)
        var text = """
        database: \(dir.path)/jitaudit.db
        status_interval: 1s
        snapshot_interval: 1s

        """
        if !body.contains("sinks:") { text += "sinks: {stdout: json, journal: false, syslog: false}\n" }
        text += body.replacingOccurrences(of: "DIR", with: dir.path)
        try text.write(to: dir.appendingPathComponent("jitaudit.yaml"), atomically: true, encoding: .utf8)
        return try Daemon(dir: dir, launcher: launcher)
    }

    var pid: Int32 { process.processIdentifier }

    /// The daemon still runs and still answers: a fresh self-approval pair
    /// goes through the socket and gives its finding.
    func assertAlive(_ rid: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(process.isRunning, "the daemon exited: \(stderr.suffix(2000))", sourceLocation: sourceLocation)
        let r = try Binary.run(["emit", "--socket", socket, "--stdin"], stdin: Data(Good.pair(rid).utf8))
        #expect(r.status == 0, "emit after the attack: \(r.stderr)", sourceLocation: sourceLocation)
        try waitForFinding(rid)
    }

    /// Waits for the self_approval finding of a `Good.pair`.
    func waitForFinding(_ rid: String, timeout: Double = 20) throws {
        try waitUntil("the self_approval finding of \(rid)", timeout: timeout) {
            self.findings.contains { $0.rule == "self_approval" && $0.requestID == rid }
        }
    }

    /// A count from the database (the first column of the first row).
    func count(_ query: String) throws -> Int { Int(try sql(query).first ?? "") ?? -1 }

    /// Peak and current resident memory of the daemon in KiB (`VmHWM`, `VmRSS`).
    var memory: (peakKiB: Int, currentKiB: Int) {
        (ProcStatus.kib(pid, "VmHWM") ?? -1, ProcStatus.kib(pid, "VmRSS") ?? -1)
    }
}

/// The well-behaved client: a request and its approval by the same person,
/// which gives exactly one `self_approval` finding (priority normal, no IPs:
/// no other default rule fires).
enum Good {
    static func pair(_ rid: String, actor: String = "gina", hour: Int = 10) -> String {
        line("2026-03-02T\(hour):00:00Z", "request", rid, actor) + "\n" + line("2026-03-02T\(hour):05:00Z", "approve", rid, actor) + "\n"
    }

    /// Sends a pair with `jitaudit emit` and returns its result.
    @discardableResult
    static func emit(_ d: Daemon, _ rid: String) throws -> Binary.Result {
        try Binary.run(["emit", "--socket", d.socket, "--stdin"], stdin: Data(pair(rid).utf8))
    }
}

enum ProcStatus {
    /// A `kB` field of /proc/PID/status.
    static func kib(_ pid: Int32, _ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for l in text.split(separator: "\n") where l.hasPrefix(key + ":") {
            return Int(l.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Open descriptors of a process.
    static func openFiles(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// What a process's descriptors point at, counted by kind (for failure messages).
    static func describeFiles(_ pid: Int32) -> String {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        var kinds: [String: Int] = [:]
        for fd in fds {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? "?"
            kinds[target.hasPrefix("socket:") ? "socket" : target, default: 0] += 1
        }
        return "\(fds.count) descriptors: " + kinds.sorted { $0.value > $1.value }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")
    }
}

/// The attacker's end of the socket: raw bytes, no validation, no manners.
/// Blocking unless made otherwise; owns its descriptor.
final class RawClient: @unchecked Sendable {
    let fd: Int32

    init(path: String, nonBlockingConnect: Bool = false) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let b = Array(path.utf8)
            raw.copyBytes(from: b.prefix(raw.count - 1))
            raw[min(b.count, raw.count - 1)] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure("connect \(path): \(String(cString: strerror(e)))")
        }
    }

    deinit { Glibc.close(fd) }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Sends all of `bytes`; false once the daemon has closed (EPIPE, ECONNRESET).
    @discardableResult
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            off += n
        }
        return true
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { send($0) } }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until the daemon closes or `timeout` passes; what arrived, as text.
    func readAll(timeout: Double) -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return (String(decoding: out, as: UTF8.self), false) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = Glibc.poll(&p, 1, Int32(left * 1000) + 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { continue }
            let r = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if r > 0 { out += buf[0..<r]; continue }
            if r < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            return (String(decoding: out, as: UTF8.self), true)
        }
    }

    /// What has arrived so far without waiting (nil: nothing yet).
    func available(wait ms: Int32 = 0) -> (text: String, closed: Bool)? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&p, 1, ms) > 0 else { return nil }
        return readAll(timeout: 0.2)
    }
}

/// Runs a blocking body on a thread of its own (the attacker beside the good client).
final class Background<T: Sendable>: Sendable {
    private let result = Mutex<T?>(nil)

    init(_ name: String, _ body: @escaping @Sendable () -> T) {
        let t = Thread { [self] in
            let v = body()
            self.result.withLock { $0 = v }
        }
        t.name = name
        t.start()
    }

    var isDone: Bool { result.withLock { $0 != nil } }

    func wait(_ what: String, timeout: Double = 120) throws -> T {
        try waitUntil(what, timeout: timeout) { self.isDone }
        return result.withLock { $0! }
    }
}


/// Running as another user: `setpriv` (util-linux), root only.
enum AsUser {
    static let nobody: UInt32 = 65_534
    static let setpriv = "/usr/bin/setpriv"

    /// Nil when the tests can switch users, else why not.
    static var skipReason: String? {
        if getuid() != 0 { return "needs root to run a process as another uid (setpriv)" }
        if !FileManager.default.isExecutableFile(atPath: setpriv) { return "setpriv not installed (util-linux)" }
        // The other user must be able to run the binary where it was built.
        var path = URL(fileURLWithPath: Binary.path)
        while path.path != "/" {
            var st = stat()
            guard stat(path.path, &st) == 0, st.st_mode & 0o001 != 0 else { return "\(path.path) is not accessible to other users" }
            path.deleteLastPathComponent()
        }
        return nil
    }

    /// The `setpriv` prefix for uid/gid and supplementary groups.
    static func launcher(uid: UInt32, gid: UInt32, groups: [UInt32] = []) -> [String] {
        [setpriv, "--reuid=\(uid)", "--regid=\(gid)"] + (groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")])
    }
}

/// Bytes with no control character or C1 control, nothing a terminal or a log reader would act on.
func hasRawControl(_ s: String) -> Bool {
    s.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F || (0x80..<0xA0).contains($0.value) }
}

/// The counters a source logs when it stops (`socket source stopped`,
/// `file source stopped`): `jitaudit.source.NAME=N` pairs of that log line.
func stoppedCounters(_ stderr: String, _ message: String) -> [String: Int] {
    guard let l = stderr.split(separator: "\n").last(where: { $0.contains(message) }) else { return [:] }
    var out: [String: Int] = [:]
    for field in l.split(separator: " ") where field.hasPrefix("jitaudit.source.") {
        let kv = field.dropFirst("jitaudit.source.".count).split(separator: "=", maxSplits: 1)
        if kv.count == 2, let n = Int(kv[1]) { out[String(kv[0])] = n }
    }
    return out
}

/// Log lines of the daemon that contain `text`.
func logLines(_ stderr: String, containing text: String) -> [Substring] {
    stderr.split(separator: "\n").filter { $0.contains(text) }
}

/// A one-way signal between a test and its background attacker.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Event text an attacker controls, aimed at every sink: each payload goes
/// into the actor, request id, action, resource and environment of one
/// self-approval pair, so each gives one `self_approval` finding whose
/// summary carries it five times.
enum Hostile {
    static let payloads: [String] = [
        "x\n2026-03-02T10:05:00.000Z CRITICAL self_approval actor=root: forged line",  // a forged log line
        "x\r\u{1B}[2K\u{1B}[31mRED\u{1B}[0m\u{07}",                                      // CR, ANSI escapes, bell
        "%n%s%x%08x%%",                                                                    // printf directives
        "x\nMESSAGE=forged\nPRIORITY=0\nFOO=bar",                                          // journal fields
        "FOO=bar",
        "lit\\n\\x1b\\u0000",                                                              // escape sequences as text
        "x'; DROP TABLE events; --",                                                       // SQL
        "\" OR 1=1; DELETE FROM findings; --",
        "<script>alert(1)</script>",                                                       // HTML
        "\"><img src=x onerror=alert(1)>",
        "n\u{0}ul",                                                                        // NUL (JSON \u0000)
        "c1\u{85}del\u{7F}",                                                               // C1 control, DEL
        "ls\u{2028}ps\u{2029}rlo\u{202E}txt",                                              // Unicode line breaks, bidi override
    ]

    static func actor(_ i: Int) -> String { "u\(i) " + payloads[i] }
    static func requestID(_ i: Int) -> String { "r\(i) " + payloads[i] }
    static func summary(_ i: Int) -> String {
        let h = payloads[i]
        return "\(actor(i)) approved their own request \(requestID(i)) (\(h) \(h) to \(h))"
    }

    /// The two JSON lines of payload `i`.
    static func lines(_ i: Int) -> String {
        var out = ""
        for (kind, time) in [("request", "10:00:00"), ("approve", "10:05:00")] {
            let o: [String: String] = ["ts": "2026-03-02T\(time)Z", "event": kind, "request_id": requestID(i), "actor": actor(i),
                                       "action": payloads[i], "resource": payloads[i], "environment": payloads[i]]
            out += String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        return out
    }

    static var allLines: String { payloads.indices.map(lines).joined() }

    /// What must never appear raw in a log line: C0 controls, DEL, C1
    /// controls, Unicode line and paragraph separators, bidi controls.
    static func unsafeScalars(_ s: String) -> [UnicodeScalar] {
        s.unicodeScalars.filter {
            let v = $0.value
            return v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || v == 0x2028 || v == 0x2029
                || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
        }
    }

    static func hex(_ s: String) -> String { s.utf8.map { String(format: "%02X", $0) }.joined() }
}

/// A daemon run inside a wrapper script (journal-e2e.sh, rsyslog-e2e.sh): a
/// scenario script starts `jitaudit run`, sends `events` with `emit`, waits
/// for `findings` lines on stdout, and stops it with SIGTERM.
struct SinkScenario {
    let dir: URL
    var database: String { dir.appendingPathComponent("jitaudit.db").path }
    var stdoutPath: String { dir.appendingPathComponent("stdout.jsonl").path }
    var stderrPath: String { dir.appendingPathComponent("stderr.log").path }
    var capture: String { dir.appendingPathComponent("captured").path }

    init(sinks: String, events: String, findings: Int) throws {
        dir = try temporaryDirectory()
        let sock = dir.appendingPathComponent("jitaudit.sock").path
        let cfg = dir.appendingPathComponent("jitaudit.yaml").path
        try """
        database: \(database)
        allowed_lateness: 1s
        sinks: \(sinks)
        sources:
          socket: {path: \(sock)}
        """.write(toFile: cfg, atomically: true, encoding: .utf8)
        let eventsPath = dir.appendingPathComponent("events.jsonl").path
        try events.write(toFile: eventsPath, atomically: true, encoding: .utf8)
        try """
        #!/usr/bin/env bash
        set -euo pipefail
        '\(Binary.path)' run --config '\(cfg)' > '\(stdoutPath)' 2> '\(stderrPath)' &
        pid=$!
        for _ in $(seq 1 200); do [ -S '\(sock)' ] && break; sleep 0.05; done
        '\(Binary.path)' emit --socket '\(sock)' --stdin < '\(eventsPath)'
        for _ in $(seq 1 400); do [ "$(wc -l < '\(stdoutPath)')" -ge \(findings) ] && break; sleep 0.05; done
        kill -TERM $pid
        wait $pid
        """.write(to: dir.appendingPathComponent("scenario.sh"), atomically: true, encoding: .utf8)
        chmod(dir.appendingPathComponent("scenario.sh").path, 0o755)
    }

    /// Runs the scenario under `wrapper`; nil when the wrapper skipped (exit 77).
    func run(under wrapper: String) throws -> Binary.Result? {
        let r = try runCommand([Binary.root.appendingPathComponent(wrapper).path, "-o", capture, "--",
                                dir.appendingPathComponent("scenario.sh").path])
        if r.status == 77 { print("skipped: \(wrapper): \(r.stderr)"); return nil }
        return r
    }

    var captured: String { (try? String(contentsOfFile: capture, encoding: .utf8)) ?? "" }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
}

/// Big files of valid events for the growth test and `scripts/bench-adversarial`.
enum BulkLines {
    /// Writes about `bytes` of `cancel` events, each just under 64 KiB (a
    /// `details` string of 60,000 bytes), one second apart, with a
    /// self-approval pair `bulk-pair-K` after every `pairsEvery` of them.
    static func write(to path: String, bytes: Int, pairsEvery: Int) throws -> (lines: Int, pairs: Int) {
        FileManager.default.createFile(atPath: path, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? h.close() }
        let pad = String(repeating: "x", count: 60_000)
        let base = Date(timeIntervalSince1970: 1_772_323_200)  // 2026-03-01T00:00:00Z
        let fmt = ISO8601DateFormatter()
        var written = 0, lines = 0, pairs = 0
        var buffer = Data()
        while written < bytes {
            let ts = fmt.string(from: base.addingTimeInterval(Double(lines)))
            var text = "{\"ts\":\"\(ts)\",\"event\":\"cancel\",\"request_id\":\"bulk\",\"actor\":\"bulk\",\"details\":\"\(pad)\"}\n"
            lines += 1
            if lines % pairsEvery == 0 {
                let rid = "bulk-pair-\(pairs)"
                text += "{\"ts\":\"\(ts)\",\"event\":\"request\",\"request_id\":\"\(rid)\",\"actor\":\"bert\"}\n"
                text += "{\"ts\":\"\(ts)\",\"event\":\"approve\",\"request_id\":\"\(rid)\",\"actor\":\"bert\"}\n"
                lines += 2
                pairs += 1
            }
            buffer.append(contentsOf: text.utf8)
            written += text.utf8.count
            if buffer.count >= 8 << 20 { h.write(buffer); buffer.removeAll(keepingCapacity: true) }
        }
        h.write(buffer)
        return (lines, pairs)
    }

    /// Appends `src` to `dst` in 8 MiB writes: the file grows by all of it within a moment.
    static func append(_ src: String, to dst: String) throws {
        let i = open(src, O_RDONLY | O_CLOEXEC), o = open(dst, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard i >= 0, o >= 0 else { throw RawClient.Failure("open: errno \(errno)") }
        defer { close(i); close(o) }
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 8 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = read(i, buf, 8 << 20)
            guard n > 0 else { break }
            var off = 0
            while off < n {
                let w = Glibc.write(o, buf + off, n - off)
                guard w > 0 else { throw RawClient.Failure("write: errno \(errno)") }
                off += w
            }
        }
    }
}

/// The writer of a rotation storm: appends `cancel` events (request ids
/// `storm-gG-N`, G the generation) to `path`, and every 1/`rotationsPerSecond`
/// s renames it to `path.G+1`, writes one more line to the old file (as a
/// writer does before it notices and reopens) and reopens the path. Returns
/// the lines written per generation.
enum Storm {
    static func run(path: String, seconds: Double, rotationsPerSecond: Int) -> [Int] {
        var counts = [0]
        var n = 0
        var fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        func line() {
            let g = counts.count - 1
            let text = "{\"ts\":\"2026-03-02T08:00:00Z\",\"event\":\"cancel\",\"request_id\":\"storm-g\(g)-\(n)\",\"actor\":\"storm\"}\n"
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            counts[g] += 1
            n += 1
        }
        let clock = ContinuousClock()
        let start = clock.now
        let every = Duration.seconds(1) / rotationsPerSecond
        var next = start + every
        while clock.now - start < .seconds(seconds) {
            line()
            if clock.now >= next {
                _ = rename(path, "\(path).\(counts.count)")
                line()  // into the renamed file
                close(fd)
                counts.append(0)
                fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
                next += every
            }
            usleep(400)
        }
        close(fd)
        return counts
    }
}
