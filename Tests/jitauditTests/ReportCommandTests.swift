import Foundation
import Testing

/// `jitaudit report` through the binary: formats, exit codes, escaping, and
/// the HTML checked by libxml2 (`xmllint`) and rendered by headless Chromium.
@Suite struct ReportCommandTests {
    /// A scratch folder with the demo fixture replayed into `demo.db`.
    final class Demo {
        let dir: URL
        var db: String { dir.appendingPathComponent("demo.db").path }
        init(extraEvents: String? = nil) throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("jitaudit-report-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var files = [Binary.root.appendingPathComponent("fixtures/demo.jsonl").path]
            if let extraEvents {
                let extra = dir.appendingPathComponent("extra.jsonl")
                try extraEvents.write(to: extra, atomically: true, encoding: .utf8)
                files.append(extra.path)
            }
            let r = try Binary.run(["replay", "--db", db, "--quiet", "--format", "json"] + files)
            #expect(r.status == 0, "replay --db failed: \(r.stderr)")
        }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        deinit { try? FileManager.default.removeItem(at: dir) }
    }

    static let period = ["--since", "2026-03-01", "--until", "2026-03-15"]

    @Test func markdownOnStdoutByDefault() throws {
        let demo = try Demo()
        let r = try Binary.run(["report", "--db", demo.db] + Self.period)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("# JIT approval audit report"))
        #expect(r.stdout.contains("## Requests executed without approval (2)"))
        #expect(r.stdout.contains("| REQ-1011 | mallory | Mallory |"))
        #expect(r.stdout.contains("| all | 26 | 6m 00s | 20m 45s | 5h 10m | 5h 10m |"))
    }

    @Test func jsonIsTheDocumentedModel() throws {
        let demo = try Demo()
        let r = try Binary.run(["report", "--db", demo.db, "--format", "json"] + Self.period)
        #expect(r.status == 0, "\(r.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(root["schema_version"] as? Int == 1)
        for key in ["period", "previous_period", "timezone", "overview", "findings", "violations", "bottlenecks",
                    "approver_load", "unknown_sources", "data_quality"] {
            #expect(root[key] != nil, "missing \(key)")
        }
        let overview = try #require(root["overview"] as? [String: Any])
        let requests = try #require(overview["requests"] as? [String: Any])
        #expect(requests["current"] as? Int == 29)
    }

    @Test func htmlToAFileIsWellFormedAndEscapesEventText() throws {
        let evil = """
            {"ts":"2026-03-12T10:00:00Z","event":"request","request_id":"R<1>&\\"'","actor":"<script>alert(1)</script>","environment":"</td></tr><script>x()</script>","priority":"high","justification":"bell\\u0007 and nul-ish \\u0001"}
            {"ts":"2026-03-12T10:05:00Z","event":"approve","request_id":"R<1>&\\"'","actor":"<SCRIPT>alert(1)</script>"}

            """
        let demo = try Demo(extraEvents: evil)
        let out = demo.path("report.html")
        let r = try Binary.run(["report", "--db", demo.db, "--format", "html", "--output", out] + Self.period)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        #expect(!html.lowercased().contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("R&lt;1&gt;&amp;&quot;&#39;"))
        // Self-contained: nothing to fetch (the only URLs are the XHTML and SVG namespaces).
        #expect(!html.contains("src=") && !html.contains("url(") && !html.contains("@import"))
        #expect(html.components(separatedBy: "href=\"").dropFirst().allSatisfy { $0.hasPrefix("#") })
        #expect(html.replacingOccurrences(of: "http://www.w3.org/", with: "").range(of: "://") == nil)
        for id in ["findings-per-day", "latency", "top-actors", "pending"] {
            #expect(html.contains("<title id=\"\(id)-title\">"), "chart \(id) has no title")
            #expect(html.contains("<desc id=\"\(id)-desc\">"), "chart \(id) has no description")
        }
        if let xmllint = Tools.find("xmllint") {
            let lint = try Tools.run(xmllint, ["--noout", "--nonet", out])
            #expect(lint.status == 0, "xmllint: \(lint.output)")
        }
        #expect(Self.deadLinks(html).isEmpty, "links to nothing: \(Self.deadLinks(html))")
        // A period without events: no chart, and no link to a data table that is not there.
        let empty = demo.path("empty.html")
        let e = try Binary.run(["report", "--db", demo.db, "--format", "html", "--output", empty, "--since", "2020-01-01", "--until", "2020-01-08"])
        #expect(e.status == 0, "\(e.stderr)")
        let emptyHTML = try String(contentsOfFile: empty, encoding: .utf8)
        #expect(Self.deadLinks(emptyHTML).isEmpty, "links to nothing: \(Self.deadLinks(emptyHTML))")
    }

    /// In-page links (`href="#x"`) with no element of that id.
    static func deadLinks(_ html: String) -> [String] {
        html.components(separatedBy: "href=\"#").dropFirst().compactMap { rest in
            let id = String(rest.prefix { $0 != "\"" })
            return html.contains("id=\"\(id)\"") ? nil : id
        }
    }

    @Test(.enabled(if: Tools.find("xmllint") != nil, "xmllint is not installed (Debian package libxml2-utils)"))
    func xmllintAcceptsTheEmptyReport() throws {
        let demo = try Demo()
        let out = demo.path("empty.html")
        let r = try Binary.run(["report", "--db", demo.db, "--format", "html", "-o", out, "--since", "2020-01-01", "--until", "2020-01-08"])
        #expect(r.status == 0, "\(r.stderr)")
        let lint = try Tools.run(Tools.find("xmllint")!, ["--noout", "--nonet", out])
        #expect(lint.status == 0, "xmllint: \(lint.output)")
        let md = try Binary.run(["report", "--db", demo.db, "--since", "2020-01-01", "--until", "2020-01-08"])
        #expect(md.status == 0 && md.stdout.contains("No findings in this period."))
    }

    @Test(.enabled(if: Tools.find("chromium") != nil, "chromium is not installed (Debian package chromium)"))
    func htmlRendersInHeadlessChromium() throws {
        let demo = try Demo()
        let html = demo.path("report.html"), png = demo.path("report.png")
        let r = try Binary.run(["report", "--db", demo.db, "--format", "html", "-o", html] + Self.period)
        #expect(r.status == 0, "\(r.stderr)")
        let shot = try Tools.run(Tools.find("chromium")!, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                          "--user-data-dir=\(demo.path("chromium-profile"))",
                                                          "--screenshot=\(png)", "--window-size=1200,2000", "file://\(html)"])
        #expect(FileManager.default.fileExists(atPath: png), "no screenshot: \(shot.output)")
        let colours = try Tools.run("/usr/bin/env", ["python3", Binary.root.appendingPathComponent("scripts/png-colours").path, png])
        let n = Int(colours.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(colours.status == 0 && n >= 100, "the screenshot looks blank: \(n) colours (\(colours.output))")
    }

    @Test func exitCodes() throws {
        let demo = try Demo()
        let missing = try Binary.run(["report", "--db", demo.path("nope.db")])
        #expect(missing.status == 1 && missing.stderr.contains("no such database file"))
        let garbage = demo.path("garbage.db")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: garbage))
        let corrupt = try Binary.run(["report", "--db", garbage])
        #expect(corrupt.status == 1 && corrupt.stderr.contains("jitaudit report:"), "\(corrupt.stderr)")
        #expect(try Binary.run(["report", "--db", demo.db, "--since", "yesterday"]).status == 2)
        #expect(try Binary.run(["report", "--db", demo.db, "--format", "pdf"]).status == 2)
        #expect(try Binary.run(["report"]).status == 2)
        let backwards = try Binary.run(["report", "--db", demo.db, "--since", "2026-03-15", "--until", "2026-03-01"])
        #expect(backwards.status == 2 && backwards.stderr.contains("must be before"))
        let now = try Binary.run(["report", "--db", demo.db])  // the last 7 days of the wall clock: empty, not an error
        #expect(now.status == 0 && now.stdout.contains("# JIT approval audit report"))
    }
}

/// External programs the report tests use when the machine has them.
enum Tools {
    static func find(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func run(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("jitaudit-tool-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let h = try FileHandle(forWritingTo: out)
        p.standardOutput = h
        p.standardError = h
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self))
    }
}
