import Foundation
import JITAuditCore
@testable import JITAuditDaemon
import JITAuditStore
import Logging
import Testing

/// Periodic snapshots are saved in parts; the parts of the snapshot a save
/// replaced are deleted afterwards, a few per transaction, by the pipeline.
@Suite("Snapshot parts cleanup")
struct SnapshotCleanupTests {
    @Test func replacedSnapshotsLeaveNoPartsBehind() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jitaudit-parts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.db").path
        let t0 = Timestamp(micros: 1_772_000_000_000_000)
        let clock = WatermarkJournalTests.FakeClock(t0)
        let rules = try RuleLoader.load([("default.yaml", DefaultRules.yaml)], config: EngineConfig()).get()
        // A snapshot is due at every commit (the clock moves 10 s per batch), in parts of 256 bytes.
        let p = Pipeline(engine: Engine(rules: rules, config: EngineConfig()), journal: try StoreJournal(path: path),
                         snapshotInterval: .seconds(1), snapshotPartBytes: 256,
                         logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, wallClock: { clock.read() }, deliver: { _ in })
        _ = try await p.resume()
        // Read as someone with the sqlite3 shell would, beside the daemon.
        func scalar(_ sql: String) throws -> Int64 {
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            shell.arguments = ["-readonly", path, sql]
            let out = Pipe()
            shell.standardOutput = out
            try shell.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            shell.waitUntilExit()
            return Int64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        var line = 0
        for i in 0..<60 {
            var lines: [RawLine] = []
            for k in 0..<20 {
                line += 1
                let ts = t0 + .seconds(Int64(i * 20 + k))
                let json = "{\"ts\":\"\(ts.rfc3339)\",\"event\":\"request\",\"request_id\":\"r\(line)\",\"actor\":\"user\(k)\",\"justification\":\"ticket OPS-\(line)\"}"
                lines.append(RawLine(.bytes(Array(json.utf8)), position: LinePosition(source: "test", line: line, offset: Int64(line * 200))))
            }
            _ = try await p.submit(LineBatch(source: "test", lines: lines))
            clock.advance(.seconds(10))
            try await Task.sleep(for: .milliseconds(5))
        }
        // Let the last save and its cleanup finish (they run beside the
        // commits; a save still staging its parts adds a generation that is
        // not current yet): the same settled state at two reads in a row.
        var stale: Int64 = -1
        var settled = 0
        for _ in 0..<200 {
            stale = try scalar("SELECT count(*) FROM engine_snapshot_parts WHERE generation <> (SELECT generation FROM engine_snapshot WHERE id = 1)")
            let parts = try scalar("SELECT parts FROM engine_snapshot WHERE id = 1")
            let all = try scalar("SELECT count(*) FROM engine_snapshot_parts")
            settled = stale == 0 && parts > 1 && all == parts ? settled + 1 : 0
            if settled == 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        // Several snapshots were saved in parts, and only the current one's parts remain.
        #expect(try scalar("SELECT generation FROM engine_snapshot WHERE id = 1") >= 3)
        #expect(try scalar("SELECT parts FROM engine_snapshot WHERE id = 1") > 1)
        #expect(stale == 0)
        #expect(try scalar("SELECT count(*) FROM engine_snapshot_parts") == (try scalar("SELECT parts FROM engine_snapshot WHERE id = 1")))
    }
}
