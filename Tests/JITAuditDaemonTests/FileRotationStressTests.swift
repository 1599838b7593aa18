import Foundation
import JITAuditCore
import JITAuditDaemon
import Synchronization
import Testing

/// A writer appends 50,000 events while rotating its file by rename and by
/// copytruncate several times; the tailer must hand out every line exactly
/// once, in order.
@Suite(.serialized) struct FileRotationStressTests {
    static let total = 50_000
    static let rotateEvery = 6_000

    enum Setup: String, CaseIterable, CustomTestStringConvertible {
        /// Only the live path is configured: rotated files are followed by descriptor,
        /// copies found beside the path.
        case literalPath
        /// A glob that also matches the rotated names (`app.log*`).
        case globMatchingRotatedFiles
        /// As `literalPath`, without inotify.
        case polling
        var testDescription: String { rawValue }
    }

    /// Writes `total` lines; every `rotateEvery` lines it rotates, alternately
    /// by rename (then reopens the path) and by copytruncate (copy, then truncate).
    final class Writer: Sendable {
        let path: String
        /// Pause after every 100 lines, in microseconds: each generation must
        /// live a few poll intervals when the tailer only polls.
        let pace: UInt32
        let done = Mutex(false)
        let rotations = Mutex<[String]>([])
        /// Lines the tailer has handed out: before rotating again, the writer
        /// waits until the tailer has seen the current file at all (the one
        /// thing the tailer needs: it cannot follow a file it never saw).
        let tailed: Progress
        init(path: String, pace: UInt32, tailed: Progress) { self.path = path; self.pace = pace; self.tailed = tailed }

        func start() {
            Thread { [self] in self.run() }.start()
        }

        private func run() {
            var fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            var generation = 0
            var generationStart = 0
            for i in 0..<FileRotationStressTests.total {
                writeAll(fd, Array((eventLine(i) + "\n").utf8))
                if i % 100 == 99 { usleep(pace) }
                if i > 0 && i % FileRotationStressTests.rotateEvery == 0 {
                    while tailed.value.load(ordering: .relaxed) <= generationStart { usleep(1000) }
                    generationStart = i + 1
                    generation += 1
                    let rotated = "\(path).\(generation)"
                    if generation % 2 == 1 {
                        precondition(rename(path, rotated) == 0)
                        close(fd)
                        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                        rotations.withLock { $0.append("rename") }
                    } else {
                        copy(to: rotated)
                        precondition(ftruncate(fd, 0) == 0)
                        rotations.withLock { $0.append("copytruncate") }
                    }
                }
            }
            close(fd)
            done.withLock { $0 = true }
        }

        private func copy(to target: String) {
            let src = open(path, O_RDONLY | O_CLOEXEC)
            let dst = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            var buf = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buf.withUnsafeMutableBytes { read(src, $0.baseAddress!, $0.count) }
                if n <= 0 { break }
                writeAll(dst, Array(buf[0..<n]))
            }
            close(src); close(dst)
        }
    }

    @Test(arguments: Setup.allCases) func everyLineExactlyOnceWhileRotating(setup: Setup) async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        let intake = RecordingIntake()
        let config = FileSourceConfig(paths: [setup == .globMatchingRotatedFiles ? path + "*" : path],
                                      pollInterval: .milliseconds(setup == .polling ? 20 : 250),
                                      inotify: setup != .polling,
                                      rotateWait: .milliseconds(500), globInterval: .milliseconds(200))
        let tailer = FileTailer(config: config, intake: intake, logger: testLogger("stress"))
        // The tailer follows the (empty) file before the writer starts.
        append(path, "")
        let task = Task { try await tailer.run() }
        await eventually("file open") { tailer.stats.openFiles == 1 }
        let writer = Writer(path: path, pace: setup == .polling ? 2_000 : 200, tailed: intake.received)
        writer.start()
        await eventually("writer done", timeout: .seconds(120)) { writer.done.withLock { $0 } }
        await eventually("all lines", timeout: .seconds(60)) { await intake.lineCount >= Self.total }
        // Anything doubled would still be on its way: give it time to show.
        try await Task.sleep(for: .milliseconds(800))
        task.cancel()
        _ = try? await task.value

        let rotations = writer.rotations.withLock { $0 }
        #expect(rotations.filter { $0 == "rename" }.count >= 4)
        #expect(rotations.filter { $0 == "copytruncate" }.count >= 4)
        let texts = await intake.texts
        #expect(texts.count == Self.total)
        let want = (0..<Self.total).map { eventLine($0) }
        if texts != want {
            let seen = Dictionary(grouping: texts, by: { $0 }).mapValues(\.count)
            let missing = want.filter { seen[$0] == nil }
            let doubled = seen.filter { $0.value > 1 }.count
            Issue.record("lines differ: \(missing.count) missing (first: \(missing.first ?? "-")), \(doubled) doubled")
            let firstDiff = zip(texts, want).enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("first difference at \(firstDiff?.offset ?? -1)")
        }
        // Line numbers go up by one within each file they were read from (a truncated file starts at 1 again).
        var lastLine: [String: Int] = [:]
        var jumps = 0
        for b in await intake.batches {
            for l in b.lines {
                let last = lastLine[l.position.source, default: 0]
                if l.position.line != last + 1 && l.position.line != 1 { jumps += 1 }
                lastLine[l.position.source] = l.position.line
            }
        }
        #expect(jumps <= rotations.count, "a file's line numbers continue, except where a copy takes over")
        #expect(tailer.stats.truncations >= 4)
    }
}
