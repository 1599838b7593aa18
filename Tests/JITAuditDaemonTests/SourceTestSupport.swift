import Foundation
import JITAuditCore
import JITAuditDaemon
import Logging
import Synchronization
import Testing

/// A counter shared with threads.
final class Progress: Sendable {
    let value = Atomic<Int>(0)
}

/// A pipeline stand-in for source tests: records every batch, decodes lines
/// with the real `LineDecoder` to produce rejections, and can be paused to
/// hold `submit` (back-pressure) or slowed.
actor RecordingIntake: LineIntake {
    private(set) var batches: [LineBatch] = []
    /// Lines recorded so far, readable from any thread.
    nonisolated let received = Progress()
    private(set) var submitsStarted = 0
    private var paused = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var delay: Duration?

    func pause() { paused = true }

    func resume() {
        paused = false
        let ws = waiters
        waiters.removeAll()
        for w in ws { w.resume() }
    }

    func setDelay(_ d: Duration?) { delay = d }

    func submit(_ batch: LineBatch) async throws -> BatchReceipt {
        submitsStarted += 1
        while paused { await withCheckedContinuation { waiters.append($0) } }
        if let delay { try await Task.sleep(for: delay) }
        batches.append(batch)
        received.value.add(batch.lines.count, ordering: .relaxed)
        var accepted = 0
        var rejected: [(position: LinePosition, reason: Rejection)] = []
        for l in batch.lines {
            switch l.content {
            case .tooLong(let n):
                rejected.append((l.position, Rejection(.tooLong, "line is \(n) bytes, over the limit")))
            case .cutOff(let b):
                rejected.append((l.position, Rejection(.cutOff, "cut off after \(b.count) bytes")))
            case .bytes(let b):
                switch LineDecoder().decode(b) {
                case .success: accepted += 1
                case .failure(let r): rejected.append((l.position, r))
                }
            }
        }
        return BatchReceipt(accepted: accepted, rejected: rejected)
    }

    /// Every line's text in the order received (`<too long N>` for cut lines).
    var texts: [String] {
        batches.flatMap { $0.lines.map(Self.text) }
    }

    var lineCount: Int { batches.reduce(0) { $0 + $1.lines.count } }

    var lastCheckpoint: FileCheckpoint? { batches.last(where: { $0.checkpoint != nil })?.checkpoint }
    /// The latest checkpoint of each path, as the store keeps them.
    var latestCheckpoints: [FileCheckpoint] {
        var byPath: [String: FileCheckpoint] = [:]
        for b in batches { if let cp = b.checkpoint { byPath[cp.path] = cp } }
        return byPath.values.sorted { $0.path < $1.path }
    }

    static func text(_ l: RawLine) -> String {
        switch l.content {
        case .bytes(let b): String(decoding: b, as: UTF8.self)
        case .tooLong(let n): "<too long \(n)>"
        case .cutOff(let b): "<cut off: \(String(decoding: b, as: UTF8.self))>"
        }
    }
}

/// Waits until `condition` holds, polling; fails the test after `timeout`.
func eventually(_ what: String = "condition", timeout: Duration = .seconds(30),
                sourceLocation: Testing.SourceLocation = #_sourceLocation,
                _ condition: () async -> Bool) async {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try? await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
}

/// A fresh directory under /tmp, removed by `cleanup()`.
struct TempDir {
    let path: String
    init() {
        var template = Array("/tmp/jitaudit-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Appends bytes to a file (created if needed) with one write(2) per call.
func append(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "open \(path)")
    writeAll(fd, Array(text.utf8))
    close(fd)
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { p in
        var off = 0
        while off < p.count {
            let n = write(fd, p.baseAddress! + off, p.count - off)
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; preconditionFailure("write: \(errno)") }
            off += n
        }
    }
}

func testLogger(_ label: String) -> Logger {
    var l = Logger(label: label)
    l.logLevel = ProcessInfo.processInfo.environment["JITAUDIT_TEST_LOG"] != nil ? .debug : .critical
    return l
}

/// A valid schema-v1 event line (without its newline).
func eventLine(_ i: Int, actor: String = "alice") -> String {
    "{\"ts\":\"2026-03-02T10:00:00Z\",\"event\":\"request\",\"request_id\":\"req-\(i)\",\"actor\":\"\(actor)\"}"
}
