import Foundation
import JITAuditDaemon
import Logging
import ServiceLifecycle
import Testing

/// A test-owned `NOTIFY_SOCKET`: a datagram socket that keeps only the
/// messages this process sent (SO_PASSCRED), so a child process of another
/// test that inherits the variable cannot confuse it.
final class NotifySocket {
    let path: String
    let fd: Int32
    private let dir: String

    init() throws {
        dir = try SinkTestKit.makeTempDir("jitaudit-notify")
        path = dir + "/notify"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, rc == 0 else { throw SinkTestFailure("notify socket: \(String(cString: strerror(errno)))") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: 0, tv_usec: 20_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Messages from this process received within `timeout`, stopping early once `until` holds.
    func receive(timeout: Duration = .seconds(2), until: ([String]) -> Bool = { _ in false }) -> [String] {
        var out: [String] = []
        let deadline = ContinuousClock.now + timeout
        var buf = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 128)
        while ContinuousClock.now < deadline && !until(out) {
            let n = buf.withUnsafeMutableBytes { data -> Int in
                control.withUnsafeMutableBytes { ctl -> Int in
                    var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &iov) { iovp -> Int in
                        var msg = msghdr()
                        msg.msg_iov = iovp
                        msg.msg_iovlen = 1
                        msg.msg_control = ctl.baseAddress
                        msg.msg_controllen = ctl.count
                        return recvmsg(fd, &msg, 0)
                    }
                }
            }
            guard n > 0 else { continue }
            // One cmsghdr: { size_t len; int level; int type; } then struct ucred { pid, uid, gid }.
            let level = control.withUnsafeBytes { $0.load(fromByteOffset: 8, as: Int32.self) }
            let type = control.withUnsafeBytes { $0.load(fromByteOffset: 12, as: Int32.self) }
            let pid = control.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
            guard level == SOL_SOCKET, type == 2 /* SCM_CREDENTIALS */, pid == getpid() else { continue }
            out.append(String(decoding: buf[0..<n], as: UTF8.self))
        }
        return out
    }
}

extension SinkTestKit {
    /// Sets environment variables for the duration of `body` (process-wide: the suite is serialized).
    static func withEnvironment<T>(_ vars: [String: String], _ body: () async throws -> T) async rethrows -> T {
        for (k, v) in vars { setenv(k, v, 1) }
        defer { for k in vars.keys { unsetenv(k) } }
        return try await body()
    }
}

/// Both suites change the process environment (NOTIFY_SOCKET, WATCHDOG_*,
/// LISTEN_*), which libsystemd reads: they run one test at a time.
@Suite(.serialized) enum SystemdGlueTests {}

extension SystemdGlueTests {
    @Suite struct NotifierTests {
        @Test func noOpWithoutNotifySocket() {
            unsetenv("NOTIFY_SOCKET")
            let n = Notifier()
            #expect(!n.isEnabled)
            #expect(n.watchdogInterval == nil)
            #expect(!n.ready(status: "x"))
            #expect(!n.stopping())
        }

        @Test func lifecycleMessagesReachNotifySocket() async throws {
            let sock = try NotifySocket()
            let got: [String] = await SinkTestKit.withEnvironment(["NOTIFY_SOCKET": sock.path]) {
                let n = Notifier()
                #expect(n.isEnabled)
                #expect(n.watchdogInterval == nil, "no WATCHDOG_USEC, no watchdog")
                #expect(n.ready(status: "listening on /run/jitaudit/jitaudit.sock"))
                #expect(n.status("12 events/s\nINJECTED=1"))
                #expect(n.reloading())
                #expect(n.stopping())
                return sock.receive { $0.count >= 4 }
            }
            #expect(got.count == 4, "\(got)")
            guard got.count == 4 else { return }
            #expect(got[0] == "READY=1\nSTATUS=listening on /run/jitaudit/jitaudit.sock")
            #expect(got[1] == "STATUS=12 events/s\\x0aINJECTED=1", "a status cannot add assignments")
            #expect(got[2].hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
            #expect(got[3] == "STOPPING=1")
        }

        @Test func watchdogIntervalIsHalfOfWatchdogUsec() async throws {
            let sock = try NotifySocket()
            await SinkTestKit.withEnvironment(["NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": String(getpid())]) {
                #expect(Notifier().watchdogInterval == .seconds(15))
            }
            await SinkTestKit.withEnvironment(["NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]) {
                #expect(Notifier().watchdogInterval == nil, "WATCHDOG_PID names another process")
            }
        }

        /// The service pings the watchdog and reports status while running, and
        /// says STOPPING=1 as soon as graceful shutdown begins.
        @Test func serviceSendsWatchdogStatusAndStopping() async throws {
            let sock = try NotifySocket()
            let got: [String] = try await SinkTestKit.withEnvironment(["NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": String(getpid())]) {
                let service = NotifierService(statusInterval: .milliseconds(40), status: { "3 events/s, 1 finding" })
                #expect(service.notifier.watchdogInterval == .milliseconds(50))
                let group = ServiceGroup(services: [service], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
                return try await withThrowingTaskGroup(of: [String].self) { tasks in
                    tasks.addTask { try await group.run(); return [] }
                    let running = sock.receive(timeout: .seconds(5)) { msgs in
                        msgs.filter { $0 == "WATCHDOG=1" }.count >= 3 && msgs.filter { $0.hasPrefix("STATUS=") }.count >= 3
                    }
                    await group.triggerGracefulShutdown()
                    let stopping = sock.receive(timeout: .seconds(5)) { $0.contains { $0.hasPrefix("STOPPING=1") } }
                    var all = running + stopping
                    for try await more in tasks { all += more }
                    return all
                }
            }
            #expect(got.filter { $0 == "WATCHDOG=1" }.count >= 3)
            #expect(got.contains("STATUS=3 events/s, 1 finding"))
            #expect(got.last?.hasPrefix("STOPPING=1\nSTATUS=stopping") == true, "\(got)")
        }
    }

    @Suite struct ListenFDsTests {
        func unixSocket(_ type: Int32, listen doListen: Bool) throws -> (fd: Int32, dir: String) {
            let dir = try SinkTestKit.makeTempDir("jitaudit-listen")
            let fd = socket(AF_UNIX, type, 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in (dir + "/s").utf8.enumerated() { raw[i] = b }
            }
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if doListen { listen(fd, 8) }
            return (fd, dir)
        }

        @Test func acceptsOnlyListeningUnixStreamSockets() throws {
            let stream = try unixSocket(Int32(SOCK_STREAM.rawValue), listen: true)
            let idle = try unixSocket(Int32(SOCK_STREAM.rawValue), listen: false)
            let dgram = try unixSocket(Int32(SOCK_DGRAM.rawValue), listen: false)
            var p: [Int32] = [0, 0]
            _ = pipe(&p)
            defer {
                for s in [stream, idle, dgram] { close(s.fd); try? FileManager.default.removeItem(atPath: s.dir) }
                close(p[0]); close(p[1])
            }
            #expect(ListenFDs.isUnixStreamListener(stream.fd))
            #expect(!ListenFDs.isUnixStreamListener(idle.fd))
            #expect(!ListenFDs.isUnixStreamListener(dgram.fd))
            #expect(!ListenFDs.isUnixStreamListener(p[0]))
            #expect(!ListenFDs.isUnixStreamListener(9999))
        }

        @Test func nothingPassedWithoutSocketActivation() async throws {
            unsetenv("LISTEN_FDS"); unsetenv("LISTEN_PID")
            let none = try ListenFDs.take()
            #expect(none.isEmpty)
            // Variables meant for another process (LISTEN_PID mismatch) are ignored.
            let foreign = try await SinkTestKit.withEnvironment(["LISTEN_FDS": "2", "LISTEN_PID": "1"]) { try ListenFDs.take() }
            #expect(foreign.isEmpty)
        }
    }
}
