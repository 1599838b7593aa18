import Foundation
import JITAuditCore
import Logging
import Synchronization
import Testing

// Helpers for the sink and systemd tests: sample findings, a private mount
// namespace per test, child processes spawned inside it, polling with a deadline.

enum SampleFindings {
    /// Event text a hostile client controls: newlines, CR, ANSI escapes, a printf
    /// directive, journal field syntax, DEL, a C1 control and a backslash.
    static let hostile = "mallory\nFAKE_FIELD=1\r\n\u{1B}[31mred\u{1B}[0m %n%s%x MESSAGE=forged\u{7F}\u{85}\\end"

    static func make(rule: String = "self_approval", severity: Severity = .critical, actor: String = "alice",
                     requestID: String? = "req-8812", summary: String? = nil, n: Int = 0) -> Finding {
        Finding(id: Finding.makeID(rule: rule, actorKey: actor, requestID: requestID, ts: Timestamp(micros: 1_772_460_431_250_000 + Int64(n))),
                rule: rule, severity: severity, ts: Timestamp(micros: 1_772_460_431_250_000 + Int64(n)), actor: actor,
                requestID: requestID,
                summary: summary ?? "\(actor) approved their own request \(requestID ?? "-") (deploy payments-api to prod)",
                evidence: Evidence(requestIDs: [requestID ?? "-"]))
    }
}

@_silgen_name("unshare") private func c_unshare(_ flags: Int32) -> Int32
private let CLONE_NEWNS: Int32 = 0x0002_0000

struct SinkTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs code on a dedicated thread that has its own mount namespace.
///
/// `unshare(CLONE_NEWNS)` affects only the calling thread (it gets a private
/// copy of its fs context), so the rest of the test process, and the other
/// tests running in parallel, keep the host's mounts. Mounts made in `body`
/// (tmpfs on /run, on /dev) and processes spawned from it (journald,
/// rsyslogd, journalctl) see the private view; so do the sinks' system calls
/// made on this thread (`sd_journal_sendv` resolving /run/systemd/journal/socket,
/// syslog(3) resolving /dev/log). The namespace disappears with the thread and
/// its children. Needs root (CAP_SYS_ADMIN); `skipReason` says when it is missing.
enum PrivateMountNamespace {
    static let skipReason: String? = {
        if geteuid() != 0 { return "needs root for unshare(CLONE_NEWNS) and mount(2); run the tests as root (CI does)" }
        let r = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            if c_unshare(CLONE_NEWNS) != 0 { r.withLock { $0 = "unshare(CLONE_NEWNS) failed: \(String(cString: strerror(errno))) (no CAP_SYS_ADMIN in this container?)" } }
            done.signal()
        }
        t.start()
        done.wait()
        return r.withLock { $0 }
    }()

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let t = Thread {
                guard c_unshare(CLONE_NEWNS) == 0 else {
                    c.resume(throwing: SinkTestFailure("unshare(CLONE_NEWNS): \(String(cString: strerror(errno)))")); return
                }
                guard mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) == 0 else {
                    c.resume(throwing: SinkTestFailure("making / private: \(String(cString: strerror(errno)))")); return
                }
                do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
            }
            t.stackSize = 8 << 20
            t.start()
        }
    }

    static func mountTmpfs(_ path: String) throws {
        guard mount("tmpfs", path, "tmpfs", 0, "mode=0755") == 0 else {
            throw SinkTestFailure("mount tmpfs on \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func bind(_ source: String, _ target: String, recursive: Bool = false) throws {
        let flags = UInt(MS_BIND) | (recursive ? UInt(MS_REC) : 0)
        guard mount(source, target, nil, flags, nil) == 0 else {
            throw SinkTestFailure("bind \(source) on \(target): \(String(cString: strerror(errno)))")
        }
    }
}

/// A child process started with posix_spawn from the calling thread (so it
/// inherits that thread's mount namespace, which Foundation.Process does not
/// promise).
struct SpawnedChild {
    let pid: pid_t

    /// Starts `argv[0]` (an absolute path) with stdin from /dev/null and stdout and stderr to `output` (or /dev/null).
    static func spawn(_ argv: [String], output: String? = nil) throws -> SpawnedChild {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ)
        guard rc == 0 else { throw SinkTestFailure("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        return SpawnedChild(pid: pid)
    }

    /// Runs to completion; returns the exit status and what it printed.
    static func run(_ argv: [String], timeout: Duration = .seconds(20)) throws -> (status: Int32, output: String) {
        let out = NSTemporaryDirectory() + "jitaudit-child-\(UUID().uuidString)"
        defer { unlink(out) }
        let child = try spawn(argv, output: out)
        let status = try child.wait(timeout: timeout)
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return (status, text)
    }

    func wait(timeout: Duration = .seconds(20)) throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F) }
            if r < 0 { throw SinkTestFailure("waitpid \(pid): \(String(cString: strerror(errno)))") }
            if ContinuousClock.now > deadline { kill(pid, SIGKILL); _ = waitpid(pid, &status, 0); throw SinkTestFailure("child \(pid) timed out") }
            usleep(10_000)
        }
    }

    /// SIGTERM (or `signal`), then SIGKILL after two seconds; reaps it.
    func stop(_ signal: Int32 = SIGTERM) {
        kill(pid, signal)
        if (try? wait(timeout: .seconds(2))) == nil { kill(pid, SIGKILL); var s: Int32 = 0; _ = waitpid(pid, &s, 0) }
    }
}

/// Small helpers of the sink and systemd tests.
enum SinkTestKit {
    /// Polls `condition` every 10 ms until it holds or `timeout` passes.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(10_000)
        }
        return try condition()
    }

    static func isSocket(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    static func makeTempDir(_ prefix: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + prefix + ".XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw SinkTestFailure("mkdtemp: \(String(cString: strerror(errno)))") }
        return String(cString: p)
    }
}

/// A LogHandler that keeps what is logged, for asserting on rate limits.
final class RecordingLogHandler: LogHandler, @unchecked Sendable {
    // @unchecked: `records` is behind its Mutex; the LogHandler value fields
    // are only set during setup.
    let records = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.withLock { $0.append((event.level, event.message.description, event.metadata ?? [:])) }
    }

    func messages(_ text: String) -> [Logger.Metadata] {
        records.withLock { $0.filter { $0.1 == text }.map(\.2) }
    }

    var logger: Logger { Logger(label: "test") { _ in self } }
}
