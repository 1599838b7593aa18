import Foundation
import Testing

/// `replay --db`, `findings`, `events`, `verify`, `prune` through the built binary.
@Suite struct StoreCommandTests {
    static var demo: String { Binary.root.appendingPathComponent("fixtures/demo.jsonl").path }
    static var badInput: String { Binary.root.appendingPathComponent("fixtures/bad-input.jsonl").path }

    /// `verify`'s row count ("ok: N events …").
    static func eventCount(_ db: String) throws -> Int? {
        let r = try Binary.run(["verify", "--db", db])
        guard r.status == 0, let n = r.stdout.split(separator: " ").dropFirst().first else { return nil }
        return Int(n)
    }

    @Test func rerunAddsNothingAndPrintsNothing() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("a.db").path
        let plain = try Binary.run(["replay", "--format", "json", "--quiet", Self.demo])
        let first = try Binary.run(["replay", "--db", db, "--format", "json", Self.demo, Self.badInput])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("stored in \(db)"))
        let count = try Self.eventCount(db)
        #expect(count != nil && count! > 0)
        let second = try Binary.run(["replay", "--db", db, "--format", "json", Self.demo, Self.badInput])
        #expect(second.status == 0)
        #expect(second.stdout.isEmpty, "a rerun prints only findings new to the database")
        #expect(second.stderr.contains("resumed"))
        #expect(try Self.eventCount(db) == count)
        // The stored findings are exactly what a plain replay prints, byte for byte.
        let stored = try Binary.run(["findings", "--db", db, "--format", "json"])
        #expect(stored.status == 0)
        let demoOnly = try Binary.run(["replay", "--db", dir.appendingPathComponent("b.db").path, "--format", "json", "--quiet", Self.demo])
        #expect(Set(plain.lines) == Set(demoOnly.lines))
        #expect(!plain.lines.isEmpty)
        #expect(Set(first.lines) == Set(stored.lines))
        #expect(stored.lines.count == first.lines.count)
    }

    /// Stdin is a stream without a checkpoint: a second pipe of the same lines
    /// is logged again (as the socket would log them), and the command says so.
    @Test func stdinIsStoredAsReceivedAndSaysSo() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("s.db").path
        let input = try Data(contentsOf: URL(fileURLWithPath: Self.demo))
        let lines = String(decoding: input, as: UTF8.self).split(separator: "\n").count
        let first = try Binary.run(["replay", "--db", db, "--format", "json", "-"], stdin: input)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("stdin has no checkpoint"))
        #expect(try Self.eventCount(db) == lines)
        let second = try Binary.run(["replay", "--db", db, "--format", "json", "--quiet", "-"], stdin: input)
        #expect(second.status == 0)
        #expect(!second.stderr.contains("stdin has no checkpoint"), "--quiet prints no note")
        #expect(try Self.eventCount(db) == 2 * lines)
        // A file is resumed instead, and never gets the note.
        let file = try Binary.run(["replay", "--db", dir.appendingPathComponent("f.db").path, "--format", "json", Self.demo])
        #expect(!file.stderr.contains("stdin has no checkpoint"))
    }

    @Test func rejectedLinesAreStored() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("a.db").path
        let r = try Binary.run(["replay", "--db", db, "--format", "json", Self.badInput])
        #expect(r.status == 0)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") else { return }
        let q = try Tool.run("/usr/bin/sqlite3", [db, "SELECT count(*), count(DISTINCT kind) FROM rejections"])
        let summary = r.stderr.components(separatedBy: " rejected")[0].split(separator: " ").last.map(String.init)
        #expect(q.stdout.hasPrefix("\(summary ?? "?")|"), "\(q.stdout) vs \(r.stderr)")
    }

    @Test func findingsFiltersAndFormats() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("a.db").path
        let all = try Binary.run(["replay", "--db", db, "--format", "json", Self.demo])
        let keys = all.lines.compactMap { FindingKey(json: $0) }
        #expect(!keys.isEmpty)
        let rule = keys[0].rule, actor = keys[0].actor
        let byRule = try Binary.run(["findings", "--db", db, "--rule", rule, "--format", "json"])
        #expect(byRule.status == 0)
        #expect(byRule.lines.count == keys.filter { $0.rule == rule }.count)
        let byActor = try Binary.run(["findings", "--db", db, "--actor", actor.uppercased(), "--format", "json"])
        #expect(byActor.lines.count == keys.filter { $0.actor.lowercased() == actor.lowercased() }.count)
        let critical = try Binary.run(["findings", "--db", db, "--severity", "critical", "--format", "text"])
        #expect(critical.lines.allSatisfy { $0.contains(" CRITICAL ") })
        let highUp = try Binary.run(["findings", "--db", db, "--severity", "high+", "--format", "text"])
        #expect(highUp.lines.allSatisfy { $0.contains(" CRITICAL ") || $0.contains(" HIGH ") })
        #expect(highUp.lines.count >= critical.lines.count)
        let csv = try Binary.run(["findings", "--db", db, "--format", "csv"])
        #expect(csv.lines.first == "id,rule,severity,ts,actor,request_id,summary,evidence")
        #expect(csv.lines.count == keys.count + 1)
        // Time bounds: everything is far in the past or the future of a fixed date.
        let ts = keys.map(\.ts).sorted()
        let since = try Binary.run(["findings", "--db", db, "--since", ts.last!, "--format", "json"])
        #expect(since.lines.count == keys.filter { $0.ts == ts.last! }.count)
        let until = try Binary.run(["findings", "--db", db, "--until", ts.first!, "--format", "json"])
        #expect(until.lines.isEmpty)
        let recent = try Binary.run(["findings", "--db", db, "--since", "1h", "--format", "json"])
        #expect(recent.status == 0)
        #expect(try Binary.run(["findings", "--db", db, "--since", "1970-01-01", "--format", "json"]).lines.count == keys.count)
    }

    @Test func usageAndRuntimeExitCodes() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("a.db").path
        #expect(try Binary.run(["findings", "--db", db]).status == 1, "a missing database is a runtime failure")
        #expect(!FileManager.default.fileExists(atPath: db), "a reader never creates the database")
        _ = try Binary.run(["replay", "--db", db, "--quiet", Self.demo])
        #expect(try Binary.run(["findings", "--db", db, "--severity", "nope"]).status == 2)
        #expect(try Binary.run(["findings", "--db", db, "--since", "yesterday"]).status == 2)
        #expect(try Binary.run(["findings"]).status == 2)
        #expect(try Binary.run(["verify"]).status == 2)
        let badPath = try Binary.run(["replay", "--db", "/nonexistent-dir/x.db", Self.demo])
        #expect(badPath.status == 1)
        #expect(badPath.stderr.contains("/nonexistent-dir/x.db"))
        let notDB = dir.appendingPathComponent("junk.db").path
        try Data(repeating: 0x58, count: 10_000).write(to: URL(fileURLWithPath: notDB))
        let junk = try Binary.run(["replay", "--db", notDB, Self.demo])
        #expect(junk.status == 1)
        #expect(junk.stderr.contains("not an SQLite database") || junk.stderr.contains("not a database"))
        #expect(try Binary.run(["verify", "--db", notDB]).status == 1)
        // A directory given as the database says so, for readers and writers.
        for command in [["findings"], ["events"], ["verify"], ["report"], ["replay", Self.demo]] {
            let r = try Binary.run([command[0], "--db", dir.path] + command.dropFirst())
            #expect(r.status == 1 && r.stderr.contains("\(dir.path): is a directory, not a database file"), "\(command): \(r.stderr)")
        }
        // A period that ends before it starts is a usage error everywhere.
        for command in ["findings", "events", "report"] {
            let r = try Binary.run([command, "--db", db, "--since", "2026-03-10", "--until", "2026-03-01"])
            #expect(r.status == 2 && r.stderr.contains("the period is empty"), "\(command): \(r.stderr)")
        }
    }

    /// A file still being written: its last line has no newline and is only
    /// half an event. `replay --db` leaves it for the next run instead of
    /// rejecting the half (and then the rest of it, losing the event); a
    /// last line without a newline that is a whole event is taken, and the
    /// newline written after it later is not read as an empty line.
    @Test func aHalfWrittenLastLineIsLeftForTheNextRun() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("a.db").path
        let file = dir.appendingPathComponent("live.jsonl")
        func append(_ text: String) throws {
            let h = try FileHandle(forWritingTo: file)
            try h.seekToEnd(); try h.write(contentsOf: Data(text.utf8)); try h.close()
        }
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let p1 = #"{"ts":"2026-01-05T10:00:00Z","event":"request","request_id":"p1","actor":"bob"}"#
        let p2 = #"{"ts":"2026-01-05T10:00:01Z","event":"request","request_id":"p2","actor":"bob"}"#
        let p3 = #"{"ts":"2026-01-05T10:00:02Z","event":"request","request_id":"p3","actor":"bob"}"#
        try append(p1 + "\n" + p2.prefix(60))
        let first = try Binary.run(["replay", "--db", db, "--quiet", file.path])
        #expect(first.status == 0)
        #expect(first.stderr.contains("live.jsonl:2: the last line has no newline and is not a whole event yet"), "\(first.stderr)")
        try append(String(p2.dropFirst(60)) + "\n" + p3)
        let second = try Binary.run(["replay", "--db", db, "--quiet", file.path])
        #expect(second.status == 0 && second.stderr.isEmpty, "\(second.stderr)")
        try append("\n")
        let third = try Binary.run(["replay", "--db", db, "--quiet", file.path])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try Daemon.sqlOn(db, "SELECT group_concat(request_id || ':' || line, ' ') FROM (SELECT request_id, line FROM events ORDER BY seq)")
                == ["p1:1 p2:2 p3:3"])
        #expect(try Daemon.sqlOn(db, "SELECT count(*) FROM rejections") == ["0"])
    }

    @Test func eventsShowsOneRequestsLifecycle() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("a.db").path
        let file = dir.appendingPathComponent("e.jsonl")
        let lines = [
            #"{"ts":"2026-03-02T14:07:11Z","event":"approve","request_id":"req-1","actor":"bob","justification":"hotfix INC-7","source_ip":"10.0.0.2"}"#,
            #"{"ts":"2026-03-02T14:00:00Z","event":"request","request_id":"req-1","actor":"alice","action":"deploy","resource":"payments-api","environment":"prod","priority":"high"}"#,
            #"{"ts":"2026-03-02T14:01:00Z","event":"request","request_id":"req-2","actor":"carol"}"#,
            #"{"ts":"2026-03-02T14:20:00Z","event":"execute","request_id":"req-1","actor":"alice","outcome":"success"}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        #expect(try Binary.run(["replay", "--db", db, "--quiet", file.path]).status == 0)
        let text = try Binary.run(["events", "--db", db, "--request-id", "req-1", "--format", "text"])
        #expect(text.status == 0)
        #expect(text.lines.count == 3)
        #expect(text.lines[0].contains("request") && text.lines[0].contains("alice") && text.lines[0].contains("action=deploy"))
        #expect(text.lines[1].contains("approve") && text.lines[1].contains("bob") && text.lines[1].contains("justification=\"hotfix INC-7\""))
        #expect(text.lines[2].contains("execute") && text.lines[2].contains("outcome=success"))
        let json = try Binary.run(["events", "--db", db, "--request-id", "req-1", "--format", "json"])
        #expect(json.lines == [lines[1], lines[0], lines[3]])
        let byActor = try Binary.run(["events", "--db", db, "--actor", "ALICE", "--format", "json"])
        #expect(byActor.lines == [lines[1], lines[3]])
        let window = try Binary.run(["events", "--db", db, "--since", "2026-03-02T14:00:30Z", "--until", "2026-03-02T14:10:00Z", "--format", "json"])
        #expect(window.lines == [lines[2], lines[0]])
    }

    @Test func verifyCatchesHandEdits() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") else { return }
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(sql: String, expect: String)] = [
            ("UPDATE events SET actor = 'mallory' WHERE seq = 5", "row 5 "),
            (#"UPDATE events SET raw = replace(raw, '"ts":"2026', '"ts":"2025') WHERE seq = 4"#, "row 4 "),
            ("DELETE FROM events WHERE seq = 3", "row 3: the row is missing"),
            ("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)", "newest rows were deleted"),
            ("INSERT INTO events (seq, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash) "
             + "SELECT (SELECT max(seq) FROM events) + 1, ts, event, request_id, actor, actor_key, priority, source_id, line, offset, received_at, raw, hash "
             + "FROM events WHERE seq = 2", "inserted by hand"),
            // The lookup tables in the index file (filled at the end of the
            // replay): a key row deleted hides the event from `events --request-id`.
            ("index: DELETE FROM request_index WHERE seq = 6", "row 6: the event has no row in request_index"),
        ]
        for (n, c) in cases.enumerated() {
            let db = dir.appendingPathComponent("v\(n).db").path
            #expect(try Binary.run(["replay", "--db", db, "--quiet", Self.demo]).status == 0)
            let ok = try Binary.run(["verify", "--db", db])
            #expect(ok.status == 0 && ok.stdout.hasPrefix("ok: "))
            let (file, sql) = c.sql.hasPrefix("index: ") ? (db + "-index", String(c.sql.dropFirst(7))) : (db, c.sql)
            let edit = try Tool.run("/usr/bin/sqlite3", [file, sql])
            #expect(edit.status == 0, "\(edit.stderr)")
            let broken = try Binary.run(["verify", "--db", db])
            #expect(broken.status == 1, "\(c.sql)")
            #expect(broken.stdout.contains(c.expect), "\(c.sql): \(broken.stdout)")
        }
    }

    /// A mistyped path is an error, not a new empty store that "pruned 0".
    @Test func pruneRefusesAMissingDatabase() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("typo.db").path
        let r = try Binary.run(["prune", "--db", db, "--older-than", "90d"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no such database file"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db))
    }

    @Test func pruneKeepsTheChainVerifiable() throws {
        let dir = try temporaryDirectory(); defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("a.db").path
        #expect(try Binary.run(["replay", "--db", db, "--quiet", Self.demo]).status == 0)
        let before = try Self.eventCount(db) ?? 0
        let r = try Binary.run(["prune", "--db", db, "--older-than", "1d"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("pruned"))
        let after = try Binary.run(["verify", "--db", db])
        #expect(after.status == 0, "\(after.stdout)")
        #expect((try Self.eventCount(db) ?? -1) < before)
    }
}

/// Runs another program to its end.
enum Tool {
    static func run(_ path: String, _ args: [String]) throws -> Binary.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Binary.Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
