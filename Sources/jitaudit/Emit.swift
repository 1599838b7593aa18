import ArgumentParser
import JITAuditCore
import JITAuditDaemon
#if canImport(Glibc)
import Glibc
#endif

/// `jitaudit emit`: sends events to the daemon's socket, for CI/CD pipelines and scripts.
struct Emit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an event (from flags) or JSON lines (from stdin) to the daemon's socket.",
        discussion: """
        Every line is validated before anything is sent (exit 2 with the reason). \
        Exit 0 once the daemon has stored every event; 1 when it is unreachable, refuses \
        the connection, or rejects a line.
        """
    )

    @Option(help: ArgumentHelp("The daemon's socket (default: $JITAUDIT_SOCKET or \(SocketSourceConfig.defaultPath)).", valueName: "PATH"))
    var socket: String?

    @Flag(name: .customLong("stdin"), help: "Read JSON lines from stdin (same as '-').")
    var fromStdin = false

    @Argument(help: ArgumentHelp("'-' reads JSON lines from stdin.", valueName: "-"))
    var input: String?

    @Option(help: "request, approve, reject, execute, revoke, cancel or expire.") var event: String?
    @Option(name: .customLong("request-id")) var requestID: String?
    @Option var actor: String?
    @Option var requester: String?
    @Option var action: String?
    @Option var resource: String?
    @Option var environment: String?
    @Option(help: "low, normal, high or critical.") var priority: String?
    @Option var justification: String?
    @Option var ticket: String?
    @Option(name: .customLong("source-ip")) var sourceIP: String?
    @Option(name: .customLong("device-id")) var deviceID: String?
    @Option(name: .customLong("user-agent")) var userAgent: String?
    @Option(name: .customLong("expires-at"), help: "RFC 3339.") var expiresAt: String?
    @Option(help: "success or failure (on execute).") var outcome: String?
    @Option(help: ArgumentHelp("Any JSON value, stored with the event.", valueName: "JSON")) var details: String?
    @Option(help: "Event time, RFC 3339 (default: now).") var ts: String?

    @Option(help: ArgumentHelp("Seconds to wait for the daemon's answer.", valueName: "SECONDS")) var timeout: Int = 30
    @Option(name: .customLong("line-limit"), help: ArgumentHelp("Longest line in bytes (the daemon's limit).", valueName: "BYTES"))
    var lineLimit: Int = 65_536
    @Flag(name: [.short, .long], help: "Print nothing on success.") var quiet = false

    var readsStdin: Bool { fromStdin || input == "-" }

    func validate() throws {
        if let input, input != "-" { throw ValidationError("unexpected argument '\(input)'; use '-' or --stdin for stdin") }
        let flagged = [event, requestID, actor, requester, action, resource, environment, priority, justification, ticket,
                       sourceIP, deviceID, userAgent, expiresAt, outcome, details, ts].contains { $0 != nil }
        if readsStdin && flagged { throw ValidationError("give either event flags or stdin, not both") }
        if !readsStdin {
            var missing: [String] = []
            if event == nil { missing.append("--event") }
            if requestID == nil { missing.append("--request-id") }
            if actor == nil { missing.append("--actor") }
            if !missing.isEmpty { throw ValidationError("missing \(missing.joined(separator: ", ")) (or send JSON lines with --stdin)") }
        }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        var problems: [String] = []
        let lines: [(label: String, text: String)] = readsStdin ? try stdinLines(overlong: &problems) : [("event", eventFromFlags())]
        for (label, text) in lines {
            if text.utf8.count > lineLimit {
                problems.append("\(label): too_long: \(text.utf8.count) bytes, over the \(lineLimit)-byte line limit")
            } else if case .failure(let r) = LineDecoder().decode(text) {
                problems.append(Self.detailsProblem(details, readsStdin: readsStdin) ?? "\(label): \(r.kind.rawValue): \(r.message)")
            }
        }
        if !problems.isEmpty {
            for p in problems.prefix(20) { printError("jitaudit emit: \(p)") }
            if problems.count > 20 { printError("jitaudit emit: … and \(problems.count - 20) more") }
            printError("jitaudit emit: nothing sent")
            throw Exit.usage
        }
        if lines.isEmpty {
            if !quiet { printError("jitaudit emit: no events on stdin; nothing sent") }
            return
        }
        let path = socket ?? getenv("JITAUDIT_SOCKET").map { String(cString: $0) } ?? SocketSourceConfig.defaultPath
        let payload = Array(lines.map { $0.text + "\n" }.joined().utf8)
        let exchange: EmitClient.Exchange
        do { exchange = try EmitClient.exchange(socketPath: path, payload: payload, timeout: .seconds(timeout)) } catch {
            printError("jitaudit emit: \(error)")
            throw Exit.runtimeFailure
        }
        for case .reject(let n, let reason) in exchange.replies {
            printError("jitaudit emit: \(n <= lines.count ? lines[n - 1].label : "line \(n)"): rejected by the daemon: \(reason)")
        }
        switch exchange.verdict {
        case .ok(let accepted, 0)?:
            if !quiet { printError("jitaudit emit: \(accepted) event\(accepted == 1 ? "" : "s") accepted") }
        case .ok(let accepted, let rejected)?:
            printError("jitaudit emit: \(accepted) accepted, \(rejected) rejected")
            throw Exit.runtimeFailure
        case .error(let reason)?:
            printError("jitaudit emit: the daemon refused: \(reason)")
            // How far it got, in the lines sent: what to send again.
            if let n = SocketReply.stored(in: reason), n < lines.count {
                let kept = n == 0 ? "none of the \(lines.count) events was stored" : "the first \(n) of \(lines.count) events were stored (through \(lines[n - 1].label))"
                printError("jitaudit emit: \(kept); send again from \(lines[n].label)")
            }
            throw Exit.runtimeFailure
        case .reject?, nil:
            printError("jitaudit emit: the daemon closed the connection without confirming; the events may not all be stored")
            throw Exit.runtimeFailure
        }
    }

    /// Non-blank stdin lines, labelled `stdin:N`. A line over the limit is
    /// not held (a 200 MB line took 432 MB before it was refused): it is
    /// skipped in constant memory and named in `overlong`.
    private func stdinLines(overlong: inout [String]) throws -> [(label: String, text: String)] {
        var out: [(String, String)] = []
        let reader = LineReader(lineLimit: lineLimit)
        do {
            try reader.read(fd: 0, source: "stdin") { item, pos in
                switch item {
                case .tooLong(let n):
                    overlong.append("stdin:\(pos.line): too_long: \(n)+ bytes, over the \(lineLimit)-byte line limit")
                case .line(let bytes):
                    var b = bytes[...]
                    if b.last == 13 { b = b.dropLast() }  // \r\n
                    let text = String(decoding: b, as: UTF8.self)
                    if !text.allSatisfy(\.isWhitespace) { out.append(("stdin:\(pos.line)", text)) }
                }
            }
        } catch {
            printError("jitaudit emit: reading stdin: \(error)")
            throw Exit.runtimeFailure
        }
        return out
    }

    private func eventFromFlags() -> String {
        var json = "{"
        func field(_ name: String, _ value: String?) {
            guard let value else { return }
            if json.count > 1 { json += "," }
            JSONText.appendString(name, to: &json)
            json += ":"
            JSONText.appendString(value, to: &json)
        }
        field("ts", ts ?? Self.now())
        field("event", event)
        field("request_id", requestID)
        field("actor", actor)
        field("requester", requester)
        field("action", action)
        field("resource", resource)
        field("environment", environment)
        field("priority", priority)
        field("justification", justification)
        field("ticket", ticket)
        field("source_ip", sourceIP)
        field("device_id", deviceID)
        field("user_agent", userAgent)
        field("expires_at", expiresAt)
        field("outcome", outcome)
        if let details { json += ",\"details\":" + details }
        return json + "}"
    }

    /// What is wrong with `--details` itself, located in what the user
    /// wrote (the decoder's column is of the whole event line built around
    /// it); nil when it is valid JSON, or not given.
    static func detailsProblem(_ details: String?, readsStdin: Bool) -> String? {
        guard let details, !readsStdin else { return nil }
        let prefix = #"{"ts":"2026-01-01T00:00:00Z","event":"request","request_id":"x","actor":"x","details":"#
        guard case .failure(let r) = LineDecoder().decode(prefix + details + "}"), r.kind == .notJSON else { return nil }
        // Columns past the prefix are columns of `details`.
        var message = r.message
        if let at = message.range(of: #"column \d+"#, options: .regularExpression),
           let n = Int(message[at].dropFirst("column ".count)), n > prefix.utf8.count {
            message.replaceSubrange(at, with: "column \(n - prefix.utf8.count)")
        }
        return "--details: \(message)"
    }

    /// The wall clock, read here only: the event time of an event made from flags.
    private static func now() -> String {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Timestamp(micros: Int64(t.tv_sec) * 1_000_000 + Int64(t.tv_nsec) / 1000).rfc3339
    }
}
