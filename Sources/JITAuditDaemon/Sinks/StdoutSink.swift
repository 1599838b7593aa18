#if canImport(Glibc)
import Glibc
#endif
import JITAuditCore

/// Findings as lines on a file descriptor (stdout by default): SPEC §3 JSON,
/// or the readable text line with control characters escaped.
///
/// Lines are buffered and written when the queue runs empty (or the buffer is
/// large), so a burst costs one `write` per 64 KiB, not one per finding.
/// The daemon must ignore SIGPIPE, so a closed stdout is an error here rather
/// than the end of the process.
public final class StdoutSink: FindingSink {
    public enum Format: String, Sendable, CaseIterable { case json, text }

    public let name: String
    private let fd: Int32
    private let format: Format
    private var buffer: [UInt8] = []
    private let flushAt: Int

    public init(format: Format = .json, fd: Int32 = 1, name: String = "stdout", flushAt: Int = 64 * 1024) {
        self.format = format
        self.fd = fd
        self.name = name
        self.flushAt = flushAt
        buffer.reserveCapacity(flushAt + 4096)
    }

    public func emit(_ finding: Finding) throws {
        let line = format == .json ? FindingFormat.json(finding) : FindingFormat.text(finding)
        buffer.append(contentsOf: line.utf8)
        buffer.append(10)
        if buffer.count >= flushAt { try flush() }
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true) }
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                // What is left of the buffer is lost: a sink never retries forever.
                throw SinkError(.write, sink: name, "write to fd \(fd) failed; \(buffer.count - off) bytes of findings lost", errno: e)
            }
            off += n
        }
    }

    public func close() { try? flush() }
}
