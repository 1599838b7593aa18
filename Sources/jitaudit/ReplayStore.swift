import ArgumentParser
import Foundation
import JITAuditCore
import JITAuditDaemon
import JITAuditStore

/// `replay --db`: the store options.
struct ReplayStoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Also keep every event, rejected line and finding in this SQLite database, and resume each file where an earlier run stopped.",
                               valueName: "FILE"))
    var db: String?

    // 8,192: measured fastest with the smallest memory (`scripts/bench-store`:
    // 8.1–8.4 s and 206 MiB for 10^6 events, against 8.7 s and 375 MiB with
    // 50,000), since a smaller batch leaves the writer less to free and the
    // allocator less to hold.
    @Option(help: ArgumentHelp("With --db: events per transaction.", valueName: "N"))
    var batchSize: Int = 8_192

    @Option(help: ArgumentHelp("With --db: events between engine snapshots (a restart re-feeds at most this many from the log).", valueName: "N"))
    var snapshotEvery: Int = 500_000

    @Option(help: ArgumentHelp("With --db: how long to wait for another process's lock, in milliseconds.", valueName: "MS"))
    var busyTimeout: Int32 = 5_000
}

extension Replay {
    /// Runs the replay with every event, rejection and finding kept in the store.
    /// Only findings new to the store are printed, so a rerun prints nothing twice.
    func runWithStore(_ engine: Engine, format: OutputFormat, out: OutputWriter) throws {
        let path = storeOptions.db!
        // A bulk load: fewer, larger merges into the lookup tables cost less
        // (measured: 10.6 s for 10^6 events at 262,144 against 11.8–12.0 s at
        // the daemon's 16,384), and the last one runs at the end.
        let store = try openStore(path, mode: .write, busyTimeout: storeOptions.busyTimeout, command: "replay", bulkLoad: true)
        if !quiet, files.isEmpty || files.contains("-") {
            // A pipe has no identity to resume by: like the socket, stdin is a
            // stream whose lines are logged as received.
            printError("jitaudit replay: note: stdin has no checkpoint: its lines are stored as received, again if the same input is piped again; pass the file to resume it instead")
        }
        let started = DispatchTime.now()
        let emit: (Finding) -> Void = { f in out.writeLine(format == .json ? FindingFormat.json(f) : FindingFormat.text(f)) }
        var rejectionLog: OutputWriter?
        if let rejections {
            let fd = open(rejections, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                printError("jitaudit replay: \(rejections): \(String(cString: strerror(errno)))")
                throw Exit.runtimeFailure
            }
            rejectionLog = OutputWriter(fd: fd)
        }
        defer { if let rejectionLog { rejectionLog.flush(); close(rejectionLog.fd) } }
        var runner = DurableReplay(engine: engine, store: store, batchSize: storeOptions.batchSize,
                                   snapshotEvery: storeOptions.snapshotEvery, now: WallClock.now)
        let before: EngineStats
        do {
            try runner.resume(onFinding: emit)
            if runner.unresolvedRequests > 0 {
                // Said even with --quiet: it changes what the open requests are judged against.
                printError("warning: \(runner.unresolvedRequests) open requests of the stored engine state lost their request event (no longer in the audit log: pruned below request_retention?); they are judged without it")
            }
            before = runner.engine.stats
            for file in files.isEmpty ? ["-"] : files {
                try runner.run(path: file, onRejection: { r, pos in rejectionLog?.writeLine(RejectionFormat.json(r, at: pos)) },
                               onFinding: emit)
            }
            try runner.finish(onFinding: emit)
        } catch {
            runner.abort()
            out.flush()
            printError("jitaudit replay: \(error)")
            throw Exit.runtimeFailure
        }
        out.flush()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        // Said even with --quiet: those lines are not in the log yet.
        for h in runner.heldBack {
            printError("jitaudit replay: \(h.position.source):\(h.position.line): the last line has no newline and is not a whole event yet (\(h.reason)); left for the next run")
        }
        guard !quiet else { return }
        var summary = ReplaySummary.render(runner.stats, Replay.delta(runner.engine.stats, since: before), seconds: seconds)
        summary += "stored in \(path): \(runner.stats.accepted) events, \(runner.stats.rejected) rejected lines, \(runner.storedFindings) new findings"
        if let head = store.chainHead { summary += "; audit log \(head.seq) events, head \(head.hash.prefix(16))…" }
        summary += "\n"
        for r in runner.resumed { summary += "resumed \(r.path) at byte \(r.offset)\n" }

        if runner.replayedFromLog > 0 { summary += "engine restored from its snapshot and \(runner.replayedFromLog) logged events\n" }
        printError(String(summary.dropLast()))
    }

    /// What the engine counted during this run, without what a restored state brought along.
    static func delta(_ now: EngineStats, since before: EngineStats) -> EngineStats {
        var d = EngineStats()
        d.events = now.events - before.events
        d.late = now.late - before.late
        d.evicted = now.evicted - before.evicted
        for (rule, n) in now.findingsByRule where n - (before.findingsByRule[rule] ?? 0) > 0 {
            d.findingsByRule[rule] = n - (before.findingsByRule[rule] ?? 0)
        }
        return d
    }
}
