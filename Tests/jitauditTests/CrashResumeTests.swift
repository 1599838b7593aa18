import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SPEC §5: a crash at any instant loses no accepted event and duplicates no
/// finding. `replay --db` is SIGKILLed at random moments and restarted each
/// time; the database must end up equal to that of one uninterrupted run.
@Suite struct CrashResumeTests {
    @Test(.enabled(if: SharedGenerator.path != nil, "needs ../shared/tools/gen_events.py next to this checkout"),
          arguments: [3, 17])
    func killedAndRestartedEndsLikeAnUninterruptedRun(seed: Int) throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["--events", "30000", "--anomaly-rate", "0.01", "--jitter", "30", "--seed", String(seed)]
        let (events, _) = try #require(try SharedGenerator.generate(args, into: dir))
        // Small batches and snapshots so kills land in every phase: inserts, commits, snapshot encoding, resume.
        let tuning = ["--batch-size", "700", "--snapshot-every", "2000", "--format", "json", "--quiet"]

        let reference = dir.appendingPathComponent("reference.db").path
        let started = Date()
        let whole = try Binary.run(["replay", "--db", reference] + tuning + [events.path])
        let wholeRun = Date().timeIntervalSince(started)
        #expect(whole.status == 0, "\(whole.stderr)")
        let want = try stored(reference)
        #expect(want.findings.count == whole.lines.count && want.findings.count > 50)
        #expect(want.events == 30_000)

        let crashed = dir.appendingPathComponent("crashed.db").path
        /// Changes whenever a transaction is committed to the database (its WAL is written).
        func signature() -> [Int] {
            ["", "-wal"].flatMap { suffix -> [Int] in
                var st = stat()
                guard stat(crashed + suffix, &st) == 0 else { return [0, 0] }
                return [Int(st.st_size), Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)]
            }
        }
        var rng = SystemRandomNumberGenerator()
        var kills = 0, runs = 0, midWork = 0
        while kills < 20 {
            runs += 1
            #expect(runs < 200, "the run keeps finishing before it is killed")
            if runs >= 200 { break }
            let before = signature()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Binary.path)
            p.arguments = ["replay", "--db", crashed] + tuning + [events.path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            if kills % 4 == 3 {
                // Now and then during start-up: opening, restoring the snapshot, re-feeding the log.
                usleep(UInt32.random(in: 1_000...60_000, using: &rng))
            } else {
                // Otherwise once this run has committed something, at a random moment after.
                while p.isRunning && signature() == before { usleep(1_000) }
                usleep(UInt32.random(in: 0...UInt32(wholeRun * 1_000_000 / 40), using: &rng))
            }
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                if p.terminationReason == .uncaughtSignal {
                    kills += 1
                    if signature() != before { midWork += 1 }
                }
            } else {
                p.waitUntilExit()
                // It got to the end first (rare): start over so all the kills land in one series of restarts.
                #expect(p.terminationStatus == 0)
                kills = 0; midWork = 0
                for suffix in ["", "-wal", "-shm", "-index", "-index-wal", "-index-shm"] { try? FileManager.default.removeItem(atPath: crashed + suffix) }
            }
        }
        let last = try Binary.run(["replay", "--db", crashed] + tuning + [events.path])
        #expect(last.status == 0, "\(last.stderr)")
        let got = try stored(crashed)
        #expect(got.events == want.events, "event count after \(kills) kills")
        #expect(got.findings == want.findings, "findings after \(kills) kills: \(got.findings.count) vs \(want.findings.count)")
        #expect(kills >= 20)
        #expect(midWork >= 10, "kills should land while work is being committed, not only at start-up")
    }

    /// The audit log's row count (verified chain) and the findings table.
    func stored(_ db: String) throws -> (events: Int, findings: [String]) {
        let v = try Binary.run(["verify", "--db", db])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        let n = Int(v.stdout.split(separator: " ").dropFirst().first ?? "") ?? -1
        let f = try Binary.run(["findings", "--db", db, "--format", "json"])
        #expect(f.status == 0)
        return (n, f.lines.sorted())
    }
}
