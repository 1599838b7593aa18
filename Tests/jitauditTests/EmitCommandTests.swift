import Foundation
import JITAuditCore
import JITAuditDaemon
import Logging
import Testing

/// `jitaudit emit` through the built binary against a real socket source.
@Suite(.serialized) struct EmitCommandTests {
    /// Accepts what decodes, except events whose request id starts with `refuse-`.
    actor Intake: LineIntake {
        var lines: [String] = []
        func submit(_ batch: LineBatch) async throws -> BatchReceipt {
            var accepted = 0
            var rejected: [(position: LinePosition, reason: Rejection)] = []
            for l in batch.lines {
                guard case .bytes(let b) = l.content else { continue }
                let text = String(decoding: b, as: UTF8.self)
                lines.append(text)
                if text.contains("\"refuse-") { rejected.append((l.position, Rejection(.badValue, "refused by the test"))) }
                else { accepted += 1 }
            }
            return BatchReceipt(accepted: accepted, rejected: rejected)
        }
    }

    func withDaemon(_ body: (String, Intake) async throws -> Void) async throws {
        var template = Array("/tmp/jitaudit-emit-XXXXXX".utf8CString)
        let dir = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/jit.sock"
        let intake = Intake()
        var logger = Logger(label: "emit-test")
        logger.logLevel = .critical
        let source = try SocketSource(config: SocketSourceConfig(listener: .path(path)), intake: intake, logger: logger)
        let task = Task { try await source.run() }
        defer { task.cancel() }
        try await body(path, intake)
        task.cancel()
        _ = try? await task.value
    }

    /// Runs the binary on a thread of its own, so the socket source keeps the cooperative pool.
    func emit(_ args: [String], stdin: String? = nil) async throws -> Binary.Result {
        try await withCheckedThrowingContinuation { c in
            Thread {
                c.resume(with: Result { try Binary.run(["emit"] + args, stdin: stdin.map { Data($0.utf8) }) })
            }.start()
        }
    }

    @Test func anEventFromFlagsIsStored() async throws {
        try await withDaemon { path, intake in
            let r = try await emit(["--socket", path, "--event", "approve", "--request-id", "req-1", "--actor", "bob",
                                    "--priority", "high", "--justification", "hotfix for INC-7 \"quoted\"", "--details", "{\"diff\":[1,2]}"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("1 event accepted"))
            let lines = await intake.lines
            #expect(lines.count == 1)
            let event = try LineDecoder().decode(lines[0]).get()
            #expect(event.requestID == "req-1" && event.actor == "bob")
        }
    }

    @Test func jsonLinesFromStdin() async throws {
        try await withDaemon { path, intake in
            let input = (1...3).map { "{\"ts\":\"2026-03-02T10:00:0\($0)Z\",\"event\":\"request\",\"request_id\":\"r\($0)\",\"actor\":\"a\"}" }
                .joined(separator: "\n") + "\n\n"
            let r = try await emit(["--socket", path, "-"], stdin: input)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(await intake.lines.count == 3)
        }
    }

    @Test func invalidInputIsNotSentAndExits2() async throws {
        try await withDaemon { path, intake in
            let input = "{\"ts\":\"2026-03-02T10:00:00Z\",\"event\":\"request\",\"request_id\":\"r1\",\"actor\":\"a\"}\n{\"ts\":\"yesterday\"}\n"
            let r = try await emit(["--socket", path, "--stdin"], stdin: input)
            #expect(r.status == 2)
            #expect(r.stderr.contains("stdin:2:"))
            let missing = try await emit(["--socket", path, "--event", "approve", "--request-id", "x"])
            #expect(missing.status == 2)
            #expect(missing.stderr.contains("--actor"))
            let bad = try await emit(["--socket", path, "--event", "approve", "--request-id", "x", "--actor", "a", "--priority", "urgent"])
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("event: bad_value"))
            // A line over the limit is refused, named by its line, without being held whole.
            let long = "{\"ts\":\"2026-03-02T10:00:00Z\",\"event\":\"request\",\"request_id\":\"r1\",\"actor\":\"a\"}\n" + String(repeating: "x", count: 70_000) + "\n"
            let overlong = try await emit(["--socket", path, "--stdin"], stdin: long)
            #expect(overlong.status == 2)
            #expect(overlong.stderr.contains("stdin:2: too_long: 70000+ bytes, over the 65536-byte line limit"), "\(overlong.stderr)")
            // A --details that is not JSON is located in what was written, not in the line built around it.
            let details = try await emit(["--socket", path, "--event", "approve", "--request-id", "x", "--actor", "a", "--details", "[1, 2,, 3]"])
            #expect(details.status == 2)
            #expect(details.stderr.contains("--details: not JSON: invalid value at column 7"), "\(details.stderr)")
            #expect(await intake.lines.isEmpty)
        }
    }

    @Test func aRejectedLineExits1() async throws {
        try await withDaemon { path, _ in
            let r = try await emit(["--socket", path, "--event", "request", "--request-id", "refuse-1", "--actor", "a"])
            #expect(r.status == 1)
            #expect(r.stderr.contains("rejected by the daemon: refused by the test"))
        }
    }

    @Test func anUnreachableDaemonExits1() async throws {
        let r = try await emit(["--socket", "/nonexistent/jit.sock", "--event", "request", "--request-id", "r", "--actor", "a"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot connect to /nonexistent/jit.sock"))
    }
}
