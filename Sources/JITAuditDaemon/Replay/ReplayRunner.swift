#if canImport(Glibc)
import Glibc
#endif
import JITAuditCore

/// Runs the engine over files or stdin to the end (`jitaudit replay`).
///
/// Reads each input in constant memory, decodes every line, hands accepted
/// events to the engine and findings to `onFinding`, and rejected lines to
/// `onRejection` (which also counts them).
public struct ReplayRunner: ~Copyable {
    public var engine: Engine
    public var stats = IngestStats()
    var decoder: LineDecoder
    let reader: LineReader

    public init(engine: Engine) {
        self.engine = engine
        self.decoder = LineDecoder()
        self.reader = LineReader(lineLimit: engine.config.lineLimit)
    }

    /// Opens `path` (`-` is stdin) and processes it to its end.
    public mutating func run(path: String, onEvent: (Event, UnsafeBufferPointer<UInt8>, LinePosition) throws -> Void = { _, _, _ in },
                             onRejection: (Rejection, UnsafeBufferPointer<UInt8>, LinePosition) throws -> Void = { _, _, _ in },
                             onFinding: (Finding) throws -> Void) throws {
        let fd: Int32
        if path == "-" { fd = 0 } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw ReadError(errno: errno, source: path) }
        }
        defer { if fd != 0 { close(fd) } }
        let source = path == "-" ? "<stdin>" : path
        let limit = engine.config.lineLimit
        stats.bytes += try reader.read(fd: fd, source: source) { item, pos in
            stats.lines += 1
            switch item {
            case .tooLong(let len):
                let r = Rejection(.tooLong, "line longer than the limit of \(limit) bytes (\(len)+ bytes)")
                stats.reject(r, at: pos)
                try onRejection(r, UnsafeBufferPointer(start: nil, count: 0), pos)
            case .line(let bytes):
                switch decoder.decodeNext(bytes) {
                case .success(let event):
                    stats.accepted += 1
                    try onEvent(event, bytes, pos)
                    engine.ingest(event)
                    if engine.hasFindings { for f in engine.takeFindings() { try onFinding(f) } }
                case .failure(let r):
                    stats.reject(r, at: pos)
                    try onRejection(r, bytes, pos)
                }
            }
        }
    }

    /// End of all input: flushes the engine (watermark to the last event time).
    public mutating func finish(onFinding: (Finding) throws -> Void) rethrows {
        engine.finish()
        for f in engine.takeFindings() { try onFinding(f) }
    }
}
