#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor (stdout, stderr), flushed in large blocks.
public final class OutputWriter {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private let flushAt: Int

    public init(fd: Int32, flushAt: Int = 64 * 1024) {
        self.fd = fd
        self.flushAt = flushAt
        buffer.reserveCapacity(flushAt + 4096)
    }

    deinit { flush() }

    public func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= flushAt { flush() }
    }

    public func writeLine(_ s: String) {
        write(s)
        buffer.append(10)
        if buffer.count >= flushAt { flush() }
    }

    public func flush() {
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, buffer.count - off) }
            if n < 0 { if errno == EINTR { continue }; break }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public static var stdoutIsTerminal: Bool { isatty(1) == 1 }
}
