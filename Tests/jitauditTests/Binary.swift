import Foundation
import Testing

/// Runs the built `jitaudit` executable, as users meet it.
enum Binary {
    /// The package root (for fixtures/ and rules/).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$JITAUDIT_BIN`, else the `jitaudit` built next to this test bundle.
    static var path: String {
        if let p = ProcessInfo.processInfo.environment["JITAUDIT_BIN"] { return p }
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("jitaudit").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/jitaudit").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Runs `jitaudit args…` with optional stdin; output goes through temp files so
    /// large outputs cannot deadlock on a full pipe.
    static func run(_ args: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> Result {
        try runCommand([path] + args, stdin: stdin, environment: environment)
    }
}

/// The shared event generator, when this checkout sits next to `shared/`.
enum SharedGenerator {
    static var path: String? {
        for candidate in ["../shared/tools/gen_events.py", "../../shared/tools/gen_events.py"] {
            let p = Binary.root.appendingPathComponent(candidate).standardizedFileURL.path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    /// Generates a stream and its expected findings into `dir`; nil when the generator is absent.
    static func generate(_ args: [String], into dir: URL) throws -> (events: URL, expected: URL)? {
        guard let path else { return nil }
        let events = dir.appendingPathComponent("events.jsonl"), expected = dir.appendingPathComponent("expected.jsonl")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", path] + args + ["--expected", expected.path, "-o", events.path]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw GeneratorFailed(status: p.terminationStatus) }
        return (events, expected)
    }

    struct GeneratorFailed: Error { var status: Int32 }
}

/// The comparable part of a finding: rule, actor, request id, ts.
struct FindingKey: Hashable, Comparable, CustomStringConvertible {
    var rule: String, actor: String, requestID: String?, ts: String

    init?(json line: String) {
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let rule = o["rule"] as? String, let actor = o["actor"] as? String, let ts = o["ts"] as? String else { return nil }
        self.rule = rule
        self.actor = actor
        self.requestID = o["request_id"] as? String
        self.ts = ts
    }

    static func < (a: FindingKey, b: FindingKey) -> Bool { (a.ts, a.rule, a.actor) < (b.ts, b.rule, b.actor) }
    var description: String { "\(ts) \(rule) \(actor) \(requestID ?? "-")" }

    static func parse(_ text: String) -> [FindingKey] {
        text.split(separator: "\n").compactMap { FindingKey(json: String($0)) }.sorted()
    }
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jitaudit-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs any command (argv), stdin from bytes; output via temp files.
func runCommand(_ argv: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> Binary.Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0])
    p.arguments = Array(argv.dropFirst())
    p.currentDirectoryURL = Binary.root
    if let environment { p.environment = environment }
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    if let stdin {
        let inFile = dir.appendingPathComponent("in")
        try stdin.write(to: inFile)
        p.standardInput = try FileHandle(forReadingFrom: inFile)
    } else {
        p.standardInput = FileHandle.nullDevice
    }
    try p.run()
    p.waitUntilExit()
    return Binary.Result(status: p.terminationStatus,
                         stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
                         stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
}
