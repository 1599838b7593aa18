import ArgumentParser
import Foundation
import JITAuditCore
import JITAuditDaemon

/// `jitaudit replay`: runs the engine over files or stdin to the end.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the rules over event files (or stdin) to the end; findings on stdout, a summary on stderr."
    )

    @Argument(help: ArgumentHelp("JSON-lines event files; '-' or none reads stdin.", valueName: "FILE"))
    var files: [String] = []

    @OptionGroup var engineOptions: EngineOptions

    @Option(help: "Output format: json or text (default: text on a terminal, json otherwise).")
    var format: OutputFormat?

    @Option(help: ArgumentHelp("Also write every rejected line's location and reason to FILE as JSON lines.", valueName: "FILE"))
    var rejections: String?

    @Flag(name: [.short, .long], help: "Print no summary on stderr.")
    var quiet = false

    @OptionGroup var storeOptions: ReplayStoreOptions

    func run() throws {
        let (config, rules): (EngineConfig, RuleSet)
        do { (config, _, rules) = try engineOptions.load() } catch let e as ConfigurationFailure {
            printError(e.description)
            throw Exit.usage
        }
        let format = self.format ?? (OutputWriter.stdoutIsTerminal ? .text : .json)
        let out = OutputWriter(fd: 1)
        if storeOptions.db != nil { return try runWithStore(Engine(rules: rules, config: config), format: format, out: out) }
        var runner = ReplayRunner(engine: Engine(rules: rules, config: config))
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
        do {
            for path in files.isEmpty ? ["-"] : files {
                try runner.run(path: path, onRejection: { r, _, pos in
                    rejectionLog?.writeLine(RejectionFormat.json(r, at: pos))
                }, onFinding: emit)
            }
        } catch {
            out.flush()
            printError("jitaudit replay: \(error)")
            throw Exit.runtimeFailure
        }
        runner.finish(onFinding: emit)
        out.flush()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        if !quiet { printError(ReplaySummary.render(runner.stats, runner.engine.stats, seconds: seconds)) }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}
