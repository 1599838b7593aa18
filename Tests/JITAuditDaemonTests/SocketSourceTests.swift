import Foundation
import JITAuditCore
@testable import JITAuditDaemon
import ServiceLifecycle
import Synchronization
import Testing

/// The socket source against a recording intake, with real clients.
@Suite(.serialized) struct SocketSourceTests {
    func withSource(_ intake: RecordingIntake, dir: TempDir, _ configure: (inout SocketSourceConfig) -> Void = { _ in },
                    _ body: (SocketSource, String) async throws -> Void) async throws {
        let path = dir.file("jit.sock")
        var config = SocketSourceConfig(listener: .path(path))
        configure(&config)
        let source = try SocketSource(config: config, intake: intake, logger: testLogger("socket"))
        let task = Task { try await source.run() }
        defer { task.cancel() }
        try await body(source, path)
        task.cancel()
        _ = try? await task.value
    }

    /// Runs the blocking client on a thread of its own (never on the cooperative pool).
    func exchange(_ path: String, _ text: String, timeout: Duration = .seconds(30)) async -> Result<EmitClient.Exchange, EmitClient.Failure> {
        await onThread { Result { () throws(EmitClient.Failure) in try EmitClient.exchange(socketPath: path, payload: Array(text.utf8), timeout: timeout) } }
    }

    @Test func repliesRejectPerBadLineAndOKWhenDurable() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        try await withSource(intake, dir: dir) { source, path in
            let text = eventLine(1) + "\n" + "{\"ts\":1}\n" + "not json at all\n" + eventLine(2) + "\n"
            let ex = try await exchange(path, text).get()
            #expect(ex.verdict == .ok(accepted: 2, rejected: 2))
            let rejects = ex.replies.compactMap { if case .reject(let l, _) = $0 { l } else { nil } }
            #expect(rejects == [2, 3])
            #expect(source.stats.accepted == 2 && source.stats.rejected == 2)
        }
        let batches = await intake.batches
        #expect(batches.allSatisfy { $0.source == "socket" && $0.peer?.uid == geteuid() && $0.peer?.pid == getpid() && $0.checkpoint == nil })
        let lines = batches.flatMap(\.lines)
        #expect(lines.map(\.position.line) == [1, 2, 3, 4])
        #expect(lines.map(\.position.source) == Array(repeating: "socket", count: 4))
    }

    @Test func anUnterminatedLastLineCountsAtEOF() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        try await withSource(intake, dir: dir) { _, path in
            let ex = try await exchange(path, eventLine(1)).get()
            #expect(ex.verdict == .ok(accepted: 1, rejected: 0))
            let empty = try await exchange(path, "").get()
            #expect(empty.verdict == .ok(accepted: 0, rejected: 0))
        }
    }

    @Test func manyClientsAtOnceEachGetTheirOwnAnswer() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        let clients = 24, perClient = 500
        try await withSource(intake, dir: dir) { source, path in
            try await withThrowingTaskGroup(of: EmitClient.Exchange.self) { group in
                for c in 0..<clients {
                    let text = (0..<perClient).map { eventLine(c * perClient + $0, actor: "client\(c)") + "\n" }.joined()
                    group.addTask { try await exchange(path, text).get() }
                }
                for try await ex in group { #expect(ex.verdict == .ok(accepted: perClient, rejected: 0)) }
            }
            #expect(source.stats.connections == UInt64(clients))
        }
        // Each connection's lines arrive complete and in order.
        var byConnection: [String: [Int]] = [:]
        for l in await intake.batches.flatMap(\.lines) {
            let actor = try LineDecoder().decode(RecordingIntake.text(l)).get().actor
            byConnection[actor, default: []].append(l.position.line)
        }
        #expect(byConnection.count == clients)
        #expect(byConnection.values.allSatisfy { $0 == Array(1...perClient) })
    }

    @Test func garbageAndOverlongLinesDoNotDisturbOthers() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        try await withSource(intake, dir: dir, { $0.lineLimit = 1024 }) { _, path in
            let bad = "\u{1}\u{2}garbage\u{0}\n" + String(repeating: "x", count: 300_000) + "\n" + eventLine(99) + "\n"
            async let badResult = exchange(path, bad)
            var good: [Result<EmitClient.Exchange, EmitClient.Failure>] = []
            for i in 0..<5 { good.append(await exchange(path, (0..<200).map { eventLine(i * 1000 + $0) + "\n" }.joined())) }
            for g in good { #expect(try g.get().verdict == .ok(accepted: 200, rejected: 0)) }
            let b = try await badResult.get()
            #expect(b.verdict == .ok(accepted: 1, rejected: 2))
            // The reason is one clean line: control characters escaped.
            let reasons = b.replies.compactMap { if case .reject(_, let r) = $0 { r } else { nil } }
            #expect(reasons.count == 2 && reasons.allSatisfy { !$0.unicodeScalars.contains { $0.value < 0x20 } })
        }
        let tooLong = await intake.batches.flatMap(\.lines).compactMap { if case .tooLong(let n) = $0.content { n } else { nil } }
        #expect(tooLong == [300_000])
    }

    @Test func aPeerOutsideTheAllowlistIsRefused() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        chmod(dir.path, 0o755)
        if geteuid() == 0 {
            // A real other user: a client run as nobody (65534) with setpriv.
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                  FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
                Issue.record("setpriv or python3 missing; cannot run a client as another user")
                return
            }
            try await withSource(intake, dir: dir, { $0.mode = 0o666 }) { source, path in
                let client = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                try:
                    s.sendall(sys.argv[2].encode() + b"\\n")
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                data = b""
                try:
                    while True:
                        b = s.recv(4096)
                        if not b: break
                        data += b
                except OSError:
                    pass
                sys.stdout.write(data.decode())
                """
                let out = try await run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                                            "/usr/bin/python3", "-c", client, path, eventLine(1)])
                #expect(out == "ERR peer not allowed\n")
                #expect(source.stats.refusedPeers == 1)
                // Root is always let in.
                let ex = try await exchange(path, eventLine(2) + "\n").get()
                #expect(ex.verdict == .ok(accepted: 1, rejected: 0))
            }
            try await withSource(intake, dir: dir, { $0.mode = 0o666; $0.policy = PeerPolicy(allowedGIDs: [65534]) }) { source, path in
                let client = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b'\\n'); s.shutdown(socket.SHUT_WR); print(s.makefile().read(), end='')"
                let out = try await run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                                            "/usr/bin/python3", "-c", client, path, eventLine(3)])
                #expect(out == "OK accepted=1 rejected=0\n")
                #expect(source.stats.refusedPeers == 0)
            }
            #expect(await intake.batches.map { $0.peer?.uid } == [0, 65534])
        } else {
            // Not root: pretend the daemon runs as someone else, so this user is a stranger.
            try await withSource(intake, dir: dir, { $0.policy = PeerPolicy(daemonUID: geteuid() &+ 1) }) { source, path in
                let ex = try await exchange(path, eventLine(1) + "\n").get()
                #expect(ex.replies == [.error("peer not allowed")])
                #expect(source.stats.refusedPeers == 1)
            }
            #expect(await intake.batches.isEmpty)
        }
    }

    @Test func policyChecksUsersPrimaryAndSupplementaryGroups() {
        let p = PeerPolicy(allowedUIDs: [1000], allowedGIDs: [2000], daemonUID: 999)
        #expect(p.allows(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        #expect(p.allows(PeerCredentials(pid: 1, uid: 999, gid: 5)))
        #expect(p.allows(PeerCredentials(pid: 1, uid: 1000, gid: 5)))
        #expect(p.allows(PeerCredentials(pid: 1, uid: 1001, gid: 2000)))
        #expect(p.allows(PeerCredentials(pid: 1, uid: 1001, gid: 5, groups: [7, 2000])))
        #expect(!p.allows(PeerCredentials(pid: 1, uid: 1001, gid: 5, groups: [7])))
        #expect(!PeerPolicy(daemonUID: 999).allows(PeerCredentials(pid: 1, uid: 1000, gid: 1000)))
    }

    @Test func aSlowPipelineStopsTheReading() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        await intake.pause()
        let lines = 200_000  // about 18 MB
        let text = (0..<lines).map { eventLine($0) + "\n" }.joined()
        try await withSource(intake, dir: dir) { source, path in
            let progress = Progress()
            let client = Task { await onThread { () -> Result<String, EmitClient.Failure> in
                blockingSend(path, Array(text.utf8), progress: progress)
            } }
            await eventually("first batch submitted") { await intake.submitsStarted == 1 }
            try await Task.sleep(for: .milliseconds(500))
            let sent = progress.value.load(ordering: .relaxed)
            #expect(sent < 6 << 20, "the daemon stopped reading: \(sent) bytes taken while the pipeline was held")
            #expect(await intake.submitsStarted == 1)
            await intake.resume()
            let reply = try await client.value.get()
            #expect(reply == "OK accepted=\(lines) rejected=0\n")
            #expect(source.stats.lines == UInt64(lines))
        }
    }

    @Test func idleAndPartialLineTimeouts() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        try await withSource(intake, dir: dir, { $0.idleTimeout = .milliseconds(300); $0.partialLineTimeout = .milliseconds(300) }) { source, path in
            for payload in ["", "{\"ts\":", eventLine(7) + "\n"] {
                let reply = try await onThread { () -> Result<String, EmitClient.Failure> in
                    blockingSend(path, Array(payload.utf8), progress: nil, halfClose: false)
                }.get()
                #expect(reply == "ERR timeout\n")
            }
            #expect(source.stats.timeouts == 3)
        }
        // The complete line before the silence was taken; the partial one was
        // not: it is handed on as cut off (recorded as a rejection).
        #expect(await intake.texts == ["<cut off: {\"ts\":>", eventLine(7)])
    }

    @Test func connectionsBeyondTheMaximumAreRefused() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        try await withSource(intake, dir: dir, { $0.maxConnections = 2 }) { source, path in
            let a = try connectRaw(path), b = try connectRaw(path)
            defer { close(a); close(b) }
            await eventually { source.stats.active == 2 }
            let ex = try await exchange(path, eventLine(1) + "\n").get()
            #expect(ex.replies == [.error("too many connections")])
            #expect(source.stats.refusedBusy == 1)
            close(a)
            await eventually { source.stats.active == 1 }
            #expect(try await exchange(path, eventLine(2) + "\n").get().verdict == .ok(accepted: 1, rejected: 0))
        }
    }

    @Test func bindsWithModeAndReplacesOnlyAStaleSocket() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        let path = dir.file("jit.sock")
        // A stale socket file: bound, never removed, nobody listening.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(SocketListener.withAddress(path) { bind(stale, $0, $1) } == 0)
        close(stale)
        try await withSource(intake, dir: dir, { $0.mode = 0o640 }) { _, p in
            var st = stat()
            #expect(lstat(p, &st) == 0 && st.st_mode & 0o777 == 0o640 && (st.st_mode & S_IFMT) == S_IFSOCK)
            // A second daemon on the same path is refused: it is alive.
            #expect(throws: SocketSourceError.self) {
                _ = try SocketSource(config: SocketSourceConfig(listener: .path(p)), intake: intake, logger: testLogger("s2"))
            }
            let ex = try await exchange(p, eventLine(1) + "\n").get()
            #expect(ex.verdict == .ok(accepted: 1, rejected: 0))
        }
        #expect(access(path, F_OK) != 0, "the socket file is removed on stop")
        append(path, "not a socket")
        #expect(throws: SocketSourceError.self) {
            _ = try SocketSource(config: SocketSourceConfig(listener: .path(path)), intake: intake, logger: testLogger("s3"))
        }
    }

    @Test func servesAnAlreadyListeningDescriptor() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        let path = dir.file("activated.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(SocketListener.withAddress(path) { bind(fd, $0, $1) } == 0)
        #expect(listen(fd, 16) == 0)
        #expect(ListenFDs.isUnixStreamListener(fd))
        let source = try SocketSource(config: SocketSourceConfig(listener: .descriptor(fd)), intake: intake, logger: testLogger("act"))
        let task = Task { try await source.run() }
        let ex = try await exchange(path, eventLine(1) + "\n").get()
        #expect(ex.verdict == .ok(accepted: 1, rejected: 0))
        task.cancel()
        _ = try? await task.value
        #expect(access(path, F_OK) == 0, "a passed socket's file belongs to systemd and stays")
    }

    @Test func gracefulShutdownStopsAcceptingAndClosesLingeringConnections() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        let path = dir.file("jit.sock")
        let source = try SocketSource(config: SocketSourceConfig(listener: .path(path), shutdownGrace: .milliseconds(300)),
                                      intake: intake, logger: testLogger("socket"))
        append(dir.file("app.log"), eventLine(1) + "\n")
        let tailer = FileTailer(config: FileSourceConfig(paths: [dir.file("app.log")]), intake: intake, logger: testLogger("tail"))
        let group = ServiceGroup(configuration: .init(services: [tailer, source], logger: testLogger("group")))
        let running = Task { try await group.run() }
        await eventually { await intake.lineCount == 1 }
        let lingering = try connectRaw(path)
        defer { close(lingering) }
        writeAll(lingering, Array((eventLine(2) + "\n").utf8))  // no half-close: it would stay open
        await eventually { await intake.lineCount == 2 }
        let started = ContinuousClock.now
        await group.triggerGracefulShutdown()
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 256)
        while true {
            let n = await onThread { [buf] in var b = buf; let n = recv(lingering, &b, b.count, 0); return (n, b) }
            if n.0 <= 0 { break }
            reply += n.1[0..<n.0]
        }
        #expect(String(decoding: reply, as: UTF8.self) == "ERR shutting down\n")
        try await running.value
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(access(path, F_OK) != 0)
        #expect((try? connectRaw(path)) == nil)
    }

    @Test func emitReportsAnUnreachableDaemon() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let r = await exchange(dir.file("nobody.sock"), eventLine(1) + "\n")
        guard case .failure(let e) = r else { Issue.record("connected to nothing"); return }
        #expect(e.message.contains("No such file") && e.message.contains("is jitaudit running?"))
    }

    @Test(arguments: [
        ("REJECT 3: bad", SocketReply.reject(line: 3, reason: "bad")),
        ("OK accepted=5 rejected=1", SocketReply.ok(accepted: 5, rejected: 1)),
        ("ERR peer not allowed", SocketReply.error("peer not allowed")),
    ]) func replyLinesRoundTrip(text: String, reply: SocketReply) {
        #expect(SocketReply(parsing: Substring(text)) == reply)
        #expect(reply.line == text + "\n")
    }
}

// MARK: helpers

/// Runs blocking work on a new thread and awaits its result.
func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in
        Thread { c.resume(returning: work()) }.start()
    }
}

func connectRaw(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard SocketListener.withAddress(path, { connect(fd, $0, $1) }) == 0 else {
        close(fd)
        throw SystemError(call: "connect", errno: errno)
    }
    return fd
}

/// Sends `bytes` with blocking writes (counting progress), optionally half-closes, reads the reply to EOF.
func blockingSend(_ path: String, _ bytes: [UInt8], progress: Progress?, halfClose: Bool = true) -> Result<String, EmitClient.Failure> {
    guard let fd = try? connectRaw(path) else { return .failure(.init(message: "connect failed")) }
    defer { close(fd) }
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, min(65_536, $0.count - off), Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }
        off += n
        progress?.value.store(off, ordering: .relaxed)
    }
    if halfClose { shutdown(fd, Int32(SHUT_WR)) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return .success(String(decoding: out, as: UTF8.self))
}

/// Runs a program, returns its stdout.
func run(_ program: String, _ args: [String]) async throws -> String {
    try await onThread { () -> Result<String, any Error> in
        Result {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = args
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
    }.get()
}
