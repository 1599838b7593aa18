import Foundation
import JITAuditCore

/// What a snapshot costs the engine after it is taken: the daemon encodes a
/// copy of `Engine.state` on another thread while the engine goes on, and
/// every table the copy still shares is copied (copy-on-write) by the engine
/// on its next change. This feeds WARM events, takes the state (held for
/// HOLD events, as the encoder holds it), then times the next events in
/// batches, against the same events with no snapshot taken.
///
///   snapshot-stall FILE [WARM] [HOLD] [BATCH] [MEASURED]
///   STALL_REPEAT=none|snap|both  instead: a new snapshot every HOLD events over
///                                MEASURED events (for a profiler), or none
///   STALL_ENCODE=N               instead: time N binary encodings of the state
let args = CommandLine.arguments
guard args.count >= 2 else {
    FileHandle.standardError.write("usage: snapshot-stall FILE [WARM=1500000] [HOLD=10000] [BATCH=500] [MEASURED=50000]\n".data(using: .utf8)!)
    exit(2)
}
/// Positional argument `i` as a positive count, or `fallback` when absent.
func count(_ i: Int, _ fallback: Int) -> Int {
    guard args.count > i else { return fallback }
    guard let n = Int(args[i]), n > 0 else {
        FileHandle.standardError.write("snapshot-stall: argument \(i) must be a positive count, got \(args[i])\n".data(using: .utf8)!)
        exit(2)
    }
    return n
}
let warm = count(2, 1_500_000)
let hold = count(3, 10_000)
let batch = count(4, 500)
let measured = count(5, 50_000)

func readEvents(_ path: String, count: Int) -> [Event] {
    guard let f = fopen(path, "r") else { fatalError("cannot open \(path)") }
    defer { fclose(f) }
    var decoder = LineDecoder()
    var out: [Event] = []
    out.reserveCapacity(count)
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    while out.count < count {
        let n = getline(&line, &cap, f)
        if n <= 0 { break }
        let len = line![n - 1] == 10 ? n - 1 : n
        line!.withMemoryRebound(to: UInt8.self, capacity: len) { p in
            if case .success(let e) = decoder.decodeNext(UnsafeBufferPointer(start: p, count: len)) { out.append(e) }
        }
    }
    free(line)
    return out
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

let config: EngineConfig = { var c = EngineConfig(); c.memoryLimit = 512 << 20; return c }()
let rules = try RuleSet.defaults(config: config)
let events = readEvents(args[1], count: warm + measured)
precondition(events.count == warm + measured, "the file has only \(events.count) events")

/// An engine fed the first WARM events, sharing storage with nothing.
@MainActor func warmedEngine() -> Engine {
    var engine = Engine(rules: rules, config: config)
    for e in events[..<warm] { engine.ingest(e); _ = engine.takeFindings() }
    return engine
}

@MainActor func run(snapshot: Bool) -> [Double] {
    var engine = warmedEngine()
    let t0 = now()
    var held: EngineState? = snapshot ? engine.state : nil
    let took = Double(now() - t0) / 1e6
    if snapshot { print(String(format: "  taking the state: %.2f ms", took)) }
    var times: [Double] = []
    var i = warm
    while i < warm + measured {
        let t0 = now()
        for e in events[i..<min(i + batch, warm + measured)] { engine.ingest(e); _ = engine.takeFindings() }
        times.append(Double(now() - t0) / 1e6)
        i += batch
        if i - warm >= hold { held = nil }
    }
    withExtendedLifetime(held) {}
    print("  first batches (ms):", times.prefix(8).map { String(format: "%.2f", $0) }.joined(separator: " "))
    return times
}

let repeatMode = ProcessInfo.processInfo.environment["STALL_REPEAT"]
let encodeTimes = ProcessInfo.processInfo.environment["STALL_ENCODE"].map { Int($0) ?? 3 }
for snapshot in [false, true, false, true] where repeatMode == nil && encodeTimes == nil {
    let t = run(snapshot: snapshot)
    let sorted = t.sorted()
    let firstHold = t.prefix(hold / batch)
    print(String(format: "%@: first %d events %.1f ms (worst batch %.2f ms), all %d events %.1f ms, median batch %.2f ms",
                 snapshot ? "snapshot held" : "no snapshot  ", hold, firstHold.reduce(0, +), firstHold.max() ?? 0,
                 measured, t.reduce(0, +), sorted[sorted.count / 2]))
}

// Every HOLD events a new snapshot (the last one released): the copying,
// repeated, for a profiler.
if let repeatMode {
    for snapshot in [false, true] where repeatMode == "both" || (repeatMode == "snap") == snapshot {
        var copy = warmedEngine()
        var held: EngineState? = nil
        let t0 = now()
        for (n, e) in events[warm...].enumerated() {
            if snapshot && n % hold == 0 { held = copy.state }
            copy.ingest(e); _ = copy.takeFindings()
        }
        withExtendedLifetime(held) {}
        print(String(format: "%@ every %d events: %d events %.1f ms", snapshot ? "snapshots" : "no snapshots", hold, measured, Double(now() - t0) / 1e6))
    }
}

// What the encoder's side costs, with nothing else running.
if let encodeTimes {
    let engine = warmedEngine()
    for _ in 0..<encodeTimes {
        let t0 = now()
        let state = engine.state
        let blob = state.binaryEncoded(requestEventsByReference: true)
        print(String(format: "encoded %d bytes in %.1f ms", blob.count, Double(now() - t0) / 1e6))
    }
}
