import Foundation
import Testing

/// The shipped systemd units, checked with systemd's own tools, and the
/// journal end-to-end script that the binary's tests use.
@Suite struct UnitFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `jitaudit` built next to this test bundle, if any.
    static var builtBinary: String? {
        if let p = ProcessInfo.processInfo.environment["JITAUDIT_BIN"] { return p }
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("jitaudit").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    static func script(_ name: String, _ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("Tests/Scripts/" + name).path] + args
        p.currentDirectoryURL = root
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `systemd-analyze verify` is silent and `systemd-analyze security
    /// --offline=yes` scores the service at 1.0 or lower; the binary runs with
    /// W^X enforced (MemoryDenyWriteExecute=yes).
    @Test func unitsVerifyCleanAndScoreAtMostOne() throws {
        var env: [String: String] = [:]
        if let bin = Self.builtBinary { env["JITAUDIT_BIN"] = bin }
        let (status, output) = try Self.script("verify-units.sh", [], environment: env)
        if status == 77 { print("skipped: \(output)"); return }
        #expect(status == 0, "\(output)")
        #expect(output.contains("verify: clean"))
        #expect(output.contains("security: exposure"), "\(output)")
        if Self.builtBinary != nil { #expect(output.contains("mdwe: the binary runs with W^X enforced"), "\(output)") }
    }

    @Test func journalScriptCollectsEntriesFromARealJournald() throws {
        let dir = try SinkTestKit.makeTempDir("jitaudit-journal-e2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, output) = try Self.script("journal-e2e.sh", ["-o", dir + "/j.json", "--", "systemd-cat", "-t", "jitaudit", "-p", "crit", "echo", "hello journal"])
        if status == 77 { print("skipped: \(output)"); return }
        #expect(status == 0, "\(output)")
        let json = (try? String(contentsOfFile: dir + "/j.json", encoding: .utf8)) ?? ""
        let entries = json.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(entries.count == 1, "\(json)")
        #expect(entries.first?["MESSAGE"] as? String == "hello journal")
        #expect(entries.first?["PRIORITY"] as? String == "2")
    }
}
