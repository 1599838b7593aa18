import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `jitaudit run` as systemd runs it: started by `systemd-socket-activate` with
/// the listening socket passed in, a real journald receiving the findings,
/// and `READY=1` / `STATUS=` / `STOPPING=1` on a test-owned `NOTIFY_SOCKET`.
@Suite(.serialized) struct SystemdIntegrationTests {
    @Test func socketActivatedDaemonWritesTheJournalAndNotifies() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate") else {
            print("skipped: needs root and systemd-socket-activate (apt package systemd)")
            return
        }
        let dir = try temporaryDirectory()
        let notifyPath = dir.appendingPathComponent("notify").path
        let notify = try DatagramSocket(path: notifyPath)
        let sock = dir.appendingPathComponent("activated.sock").path
        let db = dir.appendingPathComponent("j.db").path
        let cfg = dir.appendingPathComponent("c.yaml")
        // No socket path: the only socket is the one systemd passes in.
        try """
        database: \(db)
        allowed_lateness: 2s
        status_interval: 1s
        sinks: {stdout: json, journal: true}
        sources: {socket: false}
        """.write(to: cfg, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("stdout.jsonl").path
        let journal = dir.appendingPathComponent("journal.json").path
        let script = dir.appendingPathComponent("scenario.sh")
        try """
        #!/usr/bin/env bash
        set -euo pipefail
        NOTIFY_SOCKET=\(notifyPath) systemd-socket-activate -l \(sock) -E NOTIFY_SOCKET \(Binary.path) run --config \(cfg.path) --rules rules/default.yaml > \(out) &
        pid=$!
        for _ in $(seq 1 100); do [ -S \(sock) ] && break; sleep 0.05; done
        \(Binary.path) emit --socket \(sock) --stdin < fixtures/demo.jsonl
        for _ in $(seq 1 200); do [ "$(wc -l < \(out))" -ge 11 ] && break; sleep 0.05; done
        sleep 1.5
        kill -TERM $pid
        wait $pid
        """.write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        let p = Process()
        p.executableURL = Binary.root.appendingPathComponent("Tests/Scripts/journal-e2e.sh")
        p.arguments = ["-o", journal, "--", script.path]
        p.currentDirectoryURL = Binary.root
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus == 77 { print("skipped: journal-e2e.sh cannot create a mount namespace here"); return }
        #expect(p.terminationStatus == 0)

        // stdout: the demo's findings.
        let want = FindingKey.parse(try String(contentsOf: Binary.root.appendingPathComponent("fixtures/demo.expected.jsonl"), encoding: .utf8))
        #expect(FindingKey.parse(try String(contentsOfFile: out, encoding: .utf8)) == want)
        // SQLite: every event and finding.
        #expect(try Daemon.sqlOn(db, "SELECT count(*) FROM events") == ["82"])
        #expect(try Daemon.sqlOn(db, "SELECT count(*) FROM findings") == ["\(want.count)"])
        // The journal: one structured entry per finding.
        let entries = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let findingEntries = entries.filter { $0["JITAUDIT_RULE"] != nil }
        #expect(findingEntries.count == want.count)
        let selfApproval = findingEntries.filter { $0["JITAUDIT_RULE"] as? String == "self_approval" }
        #expect(selfApproval.count == want.filter { $0.rule == "self_approval" }.count)
        #expect(selfApproval.first?["PRIORITY"] as? String == "2")
        #expect(selfApproval.first?["JITAUDIT_REQUEST_ID"] != nil)
        // sd_notify: READY first, a STATUS, STOPPING at the end.
        let messages = notify.drain()
        #expect(messages.first?.contains("READY=1") == true, "\(messages)")
        #expect(messages.contains { $0.contains("STATUS=") })
        #expect(messages.last?.contains("STOPPING=1") == true, "\(messages)")
    }
}

/// A test-owned AF_UNIX datagram socket, the receiving end of `NOTIFY_SOCKET`.
final class DatagramSocket {
    let fd: Int32
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        _ = withUnsafeMutableBytes(of: &addr.sun_path) { p in path.utf8CString.withUnsafeBytes { p.copyMemory(from: $0) } }
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard ok == 0 else { throw Timeout(what: "bind \(path): errno \(errno)") }
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    }
    /// Every datagram received so far.
    func drain() -> [String] {
        var out: [String] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out.append(String(decoding: buf[0..<n], as: UTF8.self))
        }
        return out
    }
    deinit { close(fd) }
}
