import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `jitaudit run` process under test, with its own config, database,
/// socket and output files in a temporary directory.
final class Daemon {
    let dir: URL
    let config: URL
    let process = Process()
    var socket: String { dir.appendingPathComponent("jitaudit.sock").path }
    var database: String { dir.appendingPathComponent("jitaudit.db").path }
    let stdoutFile: URL
    let stderrFile: URL

    /// `configBody` is appended to a config that binds the socket and database in `dir`.
    init(dir: URL? = nil, configBody: String = "", arguments: [String] = [], environment: [String: String] = [:],
         launcher: [String] = []) throws {
        self.dir = try dir ?? temporaryDirectory()
        config = self.dir.appendingPathComponent("jitaudit.yaml")
        stdoutFile = self.dir.appendingPathComponent("stdout-\(UUID().uuidString).log")
        stderrFile = self.dir.appendingPathComponent("stderr-\(UUID().uuidString).log")
        let base = """
        database: \(self.dir.appendingPathComponent("jitaudit.db").path)
        sinks: {stdout: json, journal: false, syslog: false}
        status_interval: 1s
        snapshot_interval: 1s

        """
        if !FileManager.default.fileExists(atPath: config.path) || !configBody.isEmpty {
            var body = configBody
            if !body.contains("sources:") {
                body += "\nsources:\n  socket: {path: \(self.dir.appendingPathComponent("jitaudit.sock").path)}\n"
            }
            try (base + body).write(to: config, atomically: true, encoding: .utf8)
        }
        FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        if launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: Binary.path)
            process.arguments = ["run", "--config", config.path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst()) + [Binary.path, "run", "--config", config.path] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.removeValue(forKey: "LISTEN_FDS")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.currentDirectoryURL = Binary.root
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
    }

    func start(waitForSocket: Bool = true) throws {
        try process.run()
        if waitForSocket {
            try waitUntil("socket \(socket) to appear") { FileManager.default.fileExists(atPath: self.socket) }
        }
    }

    /// Sends JSON lines through `jitaudit emit`.
    @discardableResult
    func emit(_ lines: String, expectStatus: Int32? = 0) throws -> Binary.Result {
        let r = try Binary.run(["emit", "--socket", socket, "--stdin"], stdin: Data(lines.utf8))
        if let expectStatus { #expect(r.status == expectStatus, "emit: \(r.stdout) \(r.stderr)") }
        return r
    }

    var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }
    var findings: [FindingKey] { FindingKey.parse(stdout) }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Nice and scheduling policy (0: normal, 5: `SCHED_IDLE`) of each of
    /// the daemon's threads named `name`, from /proc.
    func scheduling(ofThreadsNamed name: String) throws -> [(nice: Int, policy: Int)] {
        let tasks = "/proc/\(process.processIdentifier)/task"
        return try FileManager.default.contentsOfDirectory(atPath: tasks).compactMap { task in
            guard let comm = try? String(contentsOfFile: "\(tasks)/\(task)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  let stat = try? String(contentsOfFile: "\(tasks)/\(task)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // Fields after the command: nice is the 19th, policy the 41st.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return (Int(fields[16]) ?? -99, Int(fields[38]) ?? -99)
        }
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop(timeout: Double = 20) throws -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        signal(SIGTERM)
        try waitUntil("jitaudit run to exit after SIGTERM", timeout: timeout) { !self.process.isRunning }
        return process.terminationStatus
    }

    func kill9() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// Rows of a query on the daemon's database, via the sqlite3 shell.
    func sql(_ query: String) throws -> [String] { try Daemon.sqlOn(database, query) }

    /// Rows of a query on any database, via the sqlite3 shell (read-only).
    static func sqlOn(_ db: String, _ query: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = ["-readonly", db, query]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}

struct Timeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
func waitUntil(_ what: String, timeout: Double = 30, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    throw Timeout(what: what)
}
