#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a line came from: source name, 1-based line number, byte offset of its start.
public struct LinePosition: Sendable, Hashable {
    public var source: String
    public var line: Int
    public var offset: Int64
}

/// Splits a file descriptor's bytes into lines in constant memory.
///
/// Reads large chunks and hands out each line as a buffer pointer into the
/// chunk (valid only during the callback): no per-line allocation. A line
/// longer than `lineLimit` is reported once and the rest of it is skipped up
/// to its newline, so one hostile line can neither exhaust memory nor swallow
/// the good line after it.
public struct LineReader: ~Copyable {
    public let lineLimit: Int
    private let capacity: Int
    private let buffer: UnsafeMutablePointer<UInt8>

    public init(lineLimit: Int) {
        self.lineLimit = lineLimit
        self.capacity = max(1 << 20, lineLimit * 2 + 2)
        self.buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    public enum Item {
        case line(UnsafeBufferPointer<UInt8>)
        /// A line over the limit: its length so far (it may go on).
        case tooLong(Int)
    }

    /// Reads `fd` to its end. `startOffset` is the file position the descriptor is at.
    /// Returns the number of bytes read; throws the `errno` of a failed read.
    /// A last line without a newline is handed out as a line.
    @discardableResult
    public func read(fd: Int32, source: String, startOffset: Int64 = 0, startLine: Int = 1,
                     _ body: (Item, LinePosition) throws -> Void) throws -> Int64 {
        try read(fd: fd, source: source, startOffset: startOffset, startLine: startLine) { item, pos, _ in try body(item, pos) }
    }

    /// `read`, telling the body whether each line ended in a newline (only
    /// the last line of the input can lack one): a writer may not have
    /// finished it yet.
    @discardableResult
    public func read(fd: Int32, source: String, startOffset: Int64 = 0, startLine: Int = 1,
                     _ body: (Item, LinePosition, _ terminated: Bool) throws -> Void) throws -> Int64 {
        var start = 0, end = 0, scan = 0
        var lineNo = startLine
        var base = startOffset  // file offset of buffer[0]
        var discarding = false
        var total: Int64 = 0
        while true {
            if end == capacity {
                if start > 0 {
                    memmove(buffer, buffer + start, end - start)
                    end -= start; scan -= start; base += Int64(start); start = 0
                } else {
                    // A full buffer with no newline: far past the limit; drop it.
                    base += Int64(end); start = 0; end = 0; scan = 0
                }
            }
            let n = Glibc.read(fd, buffer + end, capacity - end)
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(errno: errno, source: source)
            }
            if n == 0 {
                if end > start && !discarding {
                    let len = end - start
                    let pos = LinePosition(source: source, line: lineNo, offset: base + Int64(start))
                    if LineLimit.exceeded(len, last: buffer[end - 1], limit: lineLimit) { try body(.tooLong(len), pos, false) }
                    else { try body(.line(UnsafeBufferPointer(start: buffer + start, count: len)), pos, false) }
                }
                return total
            }
            total += Int64(n)
            end += n
            while scan < end {
                guard let hit = memchr(buffer + scan, 10, end - scan) else { scan = end; break }
                let nl = UnsafeMutablePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - buffer
                let len = nl - start
                if discarding {
                    discarding = false
                } else {
                    let pos = LinePosition(source: source, line: lineNo, offset: base + Int64(start))
                    if LineLimit.exceeded(len, last: len > 0 ? buffer[nl - 1] : nil, limit: lineLimit) { try body(.tooLong(len), pos, true) }
                    else { try body(.line(UnsafeBufferPointer(start: buffer + start, count: len)), pos, true) }
                }
                lineNo += 1
                start = nl + 1
                scan = start
            }
            if !discarding && end - start > LineLimit.framing(lineLimit) {
                let pos = LinePosition(source: source, line: lineNo, offset: base + Int64(start))
                try body(.tooLong(end - start), pos, true)
                discarding = true
            }
            if discarding {
                base += Int64(end); start = 0; end = 0; scan = 0
            }
        }
    }
}

/// A read that failed with an OS error.
public struct ReadError: Error, CustomStringConvertible {
    public var errno: Int32
    public var source: String
    public var description: String { "\(source): \(String(cString: strerror(errno)))" }
}
