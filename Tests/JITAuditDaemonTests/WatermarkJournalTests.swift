import Foundation
import JITAuditCore
@testable import JITAuditDaemon
import JITAuditStore
import Logging
import Synchronization
import Testing

/// The wall clock's advances of the watermark are journaled, so a restart
/// re-feeds the logged events with them where they happened (see
/// `WatermarkSchema` in the store).
@Suite("Wall-clock ticks in the journal")
struct WatermarkJournalTests {
    final class FakeClock: Sendable {
        private let now: Mutex<Timestamp>
        init(_ t: Timestamp) { now = Mutex(t) }
        func advance(_ span: TimeSpan) { now.withLock { $0 = $0 + span } }
        func read() -> Timestamp { now.withLock { $0 } }
    }

    static func pipeline(_ path: String, _ clock: FakeClock) throws -> Pipeline {
        let rules = try RuleLoader.load([("default.yaml", DefaultRules.yaml)], config: EngineConfig()).get()
        return Pipeline(engine: Engine(rules: rules, config: EngineConfig()), journal: try StoreJournal(path: path),
                        snapshotInterval: .seconds(3600), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
                        wallClock: { clock.read() }, deliver: { _ in })
    }

    static func batch(_ ts: Timestamp, _ kind: String, line: Int) -> LineBatch {
        let json = "{\"ts\":\"\(ts.rfc3339)\",\"event\":\"\(kind)\",\"request_id\":\"r1\",\"actor\":\"alice\"}"
        return LineBatch(source: "test", lines: [RawLine(.bytes(Array(json.utf8)), position: LinePosition(source: "test", line: line, offset: Int64(line * 100)))])
    }

    @Test func aResumeReplaysTheWallClocksAdvancesWhereTheyHappened() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jitaudit-marks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.db").path
        let t0 = Timestamp(micros: 1_772_000_000_000_000)
        let clock = FakeClock(t0)

        var before: (watermark: Timestamp, late: Int)
        do {
            let p = try Self.pipeline(path, clock)
            _ = try await p.resume()
            _ = try await p.submit(Self.batch(t0, "request", line: 1))
            // Ten idle minutes: event time flows with the wall clock and releases the request.
            clock.advance(.minutes(10))
            try await p.tick()
            // An approve stamped a minute after the request arrives now: late.
            _ = try await p.submit(Self.batch(t0 + .minutes(1), "approve", line: 2))
            before = (await p.watermark, await p.stats.late)
            #expect(before.late == 1 && before.watermark == t0 + .minutes(9))
            // A tick that releases and fires nothing writes nothing.
            clock.advance(.seconds(1))
            try await p.tick()
            let marks = try AuditStore(path: path, mode: .read).watermarkMarks(from: 0)
            #expect(marks.map(\.seq) == [1] && marks.map(\.watermark) == [t0 + .minutes(9)])
        }  // no checkpoint: the pipeline goes as in a crash

        // The restarted engine (no wall-clock tick yet) stands where the first one stood.
        let again = try Self.pipeline(path, clock)
        _ = try await again.resume()
        #expect(await again.watermark == before.watermark)
        #expect(await again.stats.late == before.late)
    }
}
