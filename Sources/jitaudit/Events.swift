import ArgumentParser
import JITAuditCore
import JITAuditDaemon
import JITAuditStore

/// `jitaudit events`: reads the audit log — one request's lifecycle, or events by actor and time.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List audit-log events in time order: one request's whole lifecycle (who requested, approved and ran what, and why), or events by actor and time.",
        discussion: "Text output is one readable line per event; JSON output is each event's original line, as received."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("request-id"), help: ArgumentHelp("Only this request's events.", valueName: "ID"))
    var requestID: String?

    @Option(help: ArgumentHelp("Only events done by this actor (case-insensitive).", valueName: "ACTOR"))
    var actor: String?

    @Option(help: ArgumentHelp("Events at or after this time: \(TimeBound.help).", valueName: "TIME"))
    var since: TimeBound?

    @Option(help: ArgumentHelp("Events before this time: \(TimeBound.help).", valueName: "TIME"))
    var until: TimeBound?

    @Option(help: ArgumentHelp("At most this many events.", valueName: "N"))
    var limit: Int?

    @Option(help: "Output format: text or json (default: text on a terminal, json otherwise).")
    var format: OutputFormat?

    func run() throws {
        let now = WallClock.now()
        let period = try TimeBound.period(since, until, now: now, command: "events")
        let store = try database.open(.read, command: "events")
        var filter = EventFilter()
        filter.requestID = requestID
        filter.actor = actor
        (filter.since, filter.until) = period
        filter.limit = limit
        let json = (format ?? (OutputWriter.stdoutIsTerminal ? .text : .json)) == .json
        let out = OutputWriter(fd: 1)
        let decoder = LineDecoder(maxDepth: 1_000, maxIdentifierBytes: .max)
        var count = 0
        do {
            try store.events(filter) { e in
                count += 1
                if json { out.writeLine(String(decoding: e.raw, as: UTF8.self)); return }
                out.writeLine(Events.text(e, decoder.decode(e.raw), showRequest: requestID == nil))
            }
        } catch {
            out.flush()
            printError("jitaudit events: \(error)")
            throw Exit.runtimeFailure
        }
        out.flush()
        if count == 0 && !json { printError("jitaudit events: no matching events") }
    }

    /// `2026-03-02T14:07:11.250Z approve  alice [req-8812] requester=bob action=deploy … justification="…"`
    static func text(_ row: StoredEvent, _ decoded: Result<Event, Rejection>, showRequest: Bool) -> String {
        var out = row.ts.rfc3339 + " " + row.event.padding(7) + " " + LogText.escape(row.actor)
        if showRequest { out += " [" + LogText.escape(row.requestID) + "]" }
        func field(_ name: String, _ value: String?, quote: Bool = false) {
            guard let value else { return }
            out += " \(name)=" + (quote ? JSONText.quote(value) : LogText.escape(value))
        }
        if let r = row.requester, Identity.key(r) != Identity.key(row.actor) { field("requester", r) }
        if case .success(let e) = decoded {
            field("action", e.action); field("resource", e.resource); field("environment", e.environment)
            if e.priority != nil { field("priority", row.priority) }
            field("ticket", e.ticket)
            field("expires_at", e.expiresAt?.rfc3339); field("outcome", e.outcome?.description)
            field("source_ip", row.sourceIP); field("device_id", row.deviceID)
            field("justification", e.justification, quote: true)
        } else {
            field("source_ip", row.sourceIP); field("device_id", row.deviceID)
        }
        field("from", "\(row.source):\(row.line)")
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
