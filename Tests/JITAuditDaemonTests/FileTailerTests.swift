import Foundation
import JITAuditCore
@testable import JITAuditDaemon
import Testing

/// The file source against a recording intake, on real files in a temp directory.
@Suite(.serialized) struct FileTailerTests {
    /// Runs a tailer while `body` runs, then cancels it.
    func withTailer(_ paths: [String], intake: RecordingIntake, checkpoints: [FileCheckpoint] = [],
                    inotify: Bool = true, lineLimit: Int = 65_536, maxBatchLines: Int = 4096,
                    _ body: (FileTailer) async throws -> Void) async throws {
        let config = FileSourceConfig(paths: paths, pollInterval: .milliseconds(20), inotify: inotify,
                                      lineLimit: lineLimit, maxBatchLines: maxBatchLines,
                                      rotateWait: .milliseconds(300), globInterval: .milliseconds(100))
        let tailer = FileTailer(config: config, intake: intake, checkpoints: checkpoints, logger: testLogger("tail"))
        let task = Task { try await tailer.run() }
        defer { task.cancel() }
        try await body(tailer)
        task.cancel()
        _ = try? await task.value
    }

    @Test(arguments: [true, false]) func appendedLinesAndAPartialLastLine(inotify: Bool) async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        append(path, "one\ntw")
        let intake = RecordingIntake()
        try await withTailer([path], intake: intake, inotify: inotify) { _ in
            await eventually("first line") { await intake.texts == ["one"] }
            try await Task.sleep(for: .milliseconds(100))
            #expect(await intake.texts == ["one"], "a partial line is not handed out")
            append(path, "o\nthree\n")
            await eventually("the completed line") { await intake.texts == ["one", "two", "three"] }
        }
        let lines = await intake.batches.flatMap(\.lines)
        #expect(lines.map(\.position.line) == [1, 2, 3])
        #expect(lines.map(\.position.offset) == [0, 4, 8])
        #expect(lines.allSatisfy { $0.position.source == path })
        let cp = try #require(await intake.lastCheckpoint)
        #expect(cp.path == path && cp.offset == 14 && cp.line == 4 && cp.fingerprint != 0)
    }

    @Test func renameRotationDrainsTheOldFileFirst() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        let intake = RecordingIntake()
        let old = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        writeAll(old, Array("a1\na2\n".utf8))
        try await withTailer([path], intake: intake) { tailer in
            await eventually { await intake.texts == ["a1", "a2"] }
            await intake.pause()  // hold the tailer so the old file still has unread lines at the switch
            writeAll(old, Array("a3\n".utf8))
            await eventually { await intake.submitsStarted == 2 }
            #expect(rename(path, path + ".1") == 0)
            writeAll(old, Array("a4\n".utf8))  // the writer has not reopened yet
            append(path, "b1\nb2\n")
            await intake.resume()
            await eventually { await intake.lineCount >= 6 }
            await eventually("old file closed") { tailer.stats.openFiles == 1 }
            #expect(tailer.stats.rotations == 1)
        }
        close(old)
        #expect(await intake.texts == ["a1", "a2", "a3", "a4", "b1", "b2"])
        let batches = await intake.batches
        // The new file's checkpoint names the path with the new inode; the old file's lines were stored before.
        let newInode = try FileProbe.stat(path: path).get().id.inode
        #expect(batches.last?.checkpoint?.inode == newInode)
        #expect(batches.last?.checkpoint?.path == path)
    }

    @Test func copytruncateContinuesFromTheCopy() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        let intake = RecordingIntake()
        append(path, "g1-1\ng1-2\n")
        try await withTailer([path], intake: intake) { tailer in
            await eventually { await intake.texts == ["g1-1", "g1-2"] }
            await intake.pause()
            append(path, "g1-3\n")
            await eventually { await intake.submitsStarted == 2 }
            append(path, "g1-4\n")  // not read before the truncation: only the copy has it
            let content = try Data(contentsOf: URL(fileURLWithPath: path))
            try content.write(to: URL(fileURLWithPath: path + ".1"))
            #expect(truncate(path, 0) == 0)
            append(path, "g2-1 is longer than what was there before\n")
            await intake.resume()
            await eventually { await intake.lineCount >= 5 }
            try await Task.sleep(for: .milliseconds(100))
            #expect(tailer.stats.truncations == 1)
            #expect(tailer.stats.recovered == 1)
        }
        #expect(await intake.texts == ["g1-1", "g1-2", "g1-3", "g1-4", "g2-1 is longer than what was there before"])
    }

    /// A glob that also matches rotated files (`app.log*`): the copy of a
    /// copytruncate (finished, then checkpointed where it lies) and the old
    /// file of a rename (adopted under its new name, which gets a checkpoint
    /// at once) are not taken for new files after a restart and read again.
    @Test(arguments: ["copytruncate", "rename"])
    func aRotatedFileTheGlobMatchesIsNotReadAgainAfterARestart(rotation: String) async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        let glob = dir.file("app.log*")
        append(path, "g1-1\ng1-2\ng1-3\n")
        let first = RecordingIntake()
        try await withTailer([glob], intake: first) { tailer in
            await eventually { await first.texts == ["g1-1", "g1-2", "g1-3"] }
            if rotation == "copytruncate" {
                try Data(contentsOf: URL(fileURLWithPath: path)).write(to: URL(fileURLWithPath: path + ".1"))
                #expect(truncate(path, 0) == 0)
            } else {
                #expect(rename(path, path + ".1") == 0)
            }
            append(path, "g2-1 is longer than what was there before\n")
            await eventually { await first.lineCount == 4 }
            // The copy is finished (read to its end, then closed); the renamed
            // file is adopted under its new name, which the glob matches.
            await eventually("the rotated file's own checkpoint", timeout: .seconds(10)) {
                await first.latestCheckpoints.map(\.path) == [path, path + ".1"]
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(await first.texts == ["g1-1", "g1-2", "g1-3", "g2-1 is longer than what was there before"])
        let checkpoints = await first.latestCheckpoints
        #expect(checkpoints.map(\.path) == [path, path + ".1"], "\(checkpoints)")
        append(path, "g2-2\n")
        let second = RecordingIntake()
        try await withTailer([glob], intake: second, checkpoints: checkpoints) { _ in
            await eventually { await second.lineCount >= 1 }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(await second.texts == ["g2-2"], "after the restart only the new line is read")
    }

    @Test func truncationStartsOver() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        let intake = RecordingIntake()
        append(path, "first generation line one\nfirst generation line two\n")
        try await withTailer([path], intake: intake) { tailer in
            await eventually { await intake.lineCount == 2 }
            #expect(truncate(path, 0) == 0)
            append(path, "x\ny\n")
            await eventually { await intake.lineCount == 4 }
            #expect(tailer.stats.truncations == 1)
        }
        let lines = await intake.batches.flatMap(\.lines)
        #expect(lines.map(RecordingIntake.text).suffix(2) == ["x", "y"])
        #expect(lines.map(\.position.line).suffix(2) == [1, 2])
        #expect(await intake.lastCheckpoint?.offset == 4)
    }

    @Test func deletedWhileOpenIsDrainedThenClosed() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        let intake = RecordingIntake()
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        writeAll(fd, Array("before\n".utf8))
        try await withTailer([path], intake: intake) { tailer in
            await eventually { await intake.texts == ["before"] }
            #expect(unlink(path) == 0)
            writeAll(fd, Array("after delete\nunterminated".utf8))
            await eventually { await intake.texts.count == 2 }
            close(fd)
            await eventually("closed after the rotate wait") { tailer.stats.openFiles == 0 }
            append(path, "new file\n")
            await eventually { await intake.texts.count == 4 }
        }
        #expect(await intake.texts == ["before", "after delete", "unterminated", "new file"])
    }

    @Test func globPicksUpNewFilesAndSkipsOthers() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        append(dir.file("a.jsonl"), "a\n")
        mkdir(dir.file("d.jsonl"), 0o755)  // a directory that matches: skipped
        try await withTailer([dir.file("*.jsonl")], intake: intake) { _ in
            await eventually { await intake.texts == ["a"] }
            append(dir.file("b.jsonl"), "b\n")
            append(dir.file("c.txt"), "c\n")
            await eventually { await intake.texts == ["a", "b"] }
            append(dir.file("a.jsonl"), "a2\n")
            await eventually { await intake.texts.count == 3 }
        }
        #expect(await intake.texts == ["a", "b", "a2"])
        #expect(await Set(intake.batches.map(\.source)) == [dir.file("a.jsonl"), dir.file("b.jsonl")])
    }

    @Test func resumesFromItsCheckpoint() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        append(path, "1\n2\n3\n")
        let first = RecordingIntake()
        try await withTailer([path], intake: first) { _ in
            await eventually { await first.lineCount == 3 }
        }
        let cp = try #require(await first.lastCheckpoint)
        append(path, "4\n5\n")
        let second = RecordingIntake()
        try await withTailer([path], intake: second, checkpoints: [cp]) { _ in
            await eventually { await second.lineCount == 2 }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(await second.texts == ["4", "5"])
        #expect(await second.batches.flatMap(\.lines).map(\.position.line) == [4, 5])

        // Same inode, other content (rewritten while stopped): from the start.
        let third = RecordingIntake()
        #expect(truncate(path, 0) == 0)
        append(path, "other\ncontent\n")
        try await withTailer([path], intake: third, checkpoints: [cp]) { _ in
            await eventually { await third.lineCount == 2 }
        }
        #expect(await third.texts == ["other", "content"])
    }

    @Test func resumesAcrossARotationWhileStopped() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        append(path, "1\n2\n")
        let first = RecordingIntake()
        try await withTailer([path], intake: first) { _ in
            await eventually { await first.lineCount == 2 }
        }
        let cp = try #require(await first.lastCheckpoint)
        append(path, "3\n")
        #expect(rename(path, path + ".1") == 0)
        append(path, "new-1\n")
        let second = RecordingIntake()
        try await withTailer([path], intake: second, checkpoints: [cp]) { _ in
            await eventually { await second.lineCount == 2 }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(await second.texts == ["3", "new-1"])

        // A checkpoint of a path no longer configured is not followed into its rotated files.
        let other = dir.file("other.log")
        append(other, "o\n")
        let third = RecordingIntake()
        try await withTailer([other], intake: third, checkpoints: [cp]) { _ in
            await eventually { await third.lineCount == 1 }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(await third.texts == ["o"])
    }

    @Test func overlongLinesAreCutAndTheNextLineSurvives() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        let intake = RecordingIntake()
        append(path, "ok\n" + String(repeating: "x", count: 300) + "\nnext\n")
        try await withTailer([path], intake: intake, lineLimit: 100) { _ in
            await eventually { await intake.lineCount == 3 }
            // An overlong line written in pieces: cut once its newline arrives.
            append(path, String(repeating: "y", count: 80))
            try await Task.sleep(for: .milliseconds(60))
            append(path, String(repeating: "y", count: 80))
            try await Task.sleep(for: .milliseconds(60))
            append(path, "yy\nlast\n")
            await eventually { await intake.lineCount == 5 }
        }
        #expect(await intake.texts == ["ok", "<too long 300>", "next", "<too long 162>", "last"])
        #expect(await intake.batches.flatMap(\.lines).map(\.position.line) == [1, 2, 3, 4, 5])
    }

    @Test func aPathThatIsADirectoryDoesNotStopTheOthers() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let intake = RecordingIntake()
        let good = dir.file("good.log"), bad = dir.file("bad.log")
        mkdir(bad, 0o755)
        append(good, "g\n")
        try await withTailer([bad, good], intake: intake) { tailer in
            await eventually { await intake.texts == ["g"] }
            #expect(tailer.stats.errors == 1)
            // The directory goes and a file takes its place.
            rmdir(bad)
            append(bad, "b\n")
            await eventually { await intake.texts == ["g", "b"] }
        }
    }

    @Test func batchesAreBoundedAndCarryTheirCheckpoint() async throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("app.log")
        append(path, (1...1000).map { "\($0)\n" }.joined())
        let intake = RecordingIntake()
        try await withTailer([path], intake: intake, maxBatchLines: 64) { _ in
            await eventually { await intake.lineCount == 1000 }
        }
        let batches = await intake.batches
        #expect(batches.allSatisfy { $0.lines.count <= 64 })
        for b in batches {
            let last = try #require(b.lines.last)
            let len = Int64(RecordingIntake.text(last).utf8.count)
            #expect(b.checkpoint?.offset == last.position.offset + len + 1)
            #expect(b.checkpoint?.line == last.position.line + 1)
        }
    }
}
