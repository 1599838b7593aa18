// Fuzz target `framing`: the daemon's LineReader over arbitrary bytes arriving
// in arbitrary chunks through a pipe.
//
// Input: three header bytes, then the stream.
//   h0: line limit = 1 + h0 (1 … 256 bytes);
//   h1: low 4 bits 15 = "amplify": the stream is repeated up to ~1.1 MiB, past
//       the reader's 1 MiB buffer, so its compaction and skipping paths run;
//       high 4 bits: largest chunk = 1 + 273 × that (1 … 4096 bytes);
//   h2: seeds the chunk sizes.
// A writer thread sends the chunks; unless amplified it waits for the reader
// to drain each one (FIONREAD), so read boundaries are the chunk boundaries.
//
// Whatever the chunking, the reader must hand out exactly what splitting the
// stream on '\n' gives: each line of at most `limit` bytes (one more when the
// last is a '\r', which is not part of the line), as it is (so no
// line holds '\n' or exceeds the limit), every longer line once as tooLong
// with a length over the limit and not past the line's, with 1-based line
// numbers and byte offsets; and nothing after the stream's end.
import Dispatch
import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif

final class Feed: @unchecked Sendable {  // read-only once the writer starts
    let data: [UInt8]
    let chunks: [Int]
    let writeFD: Int32
    let readFD: Int32
    let handshake: Bool
    init(data: [UInt8], chunks: [Int], writeFD: Int32, readFD: Int32, handshake: Bool) {
        self.data = data; self.chunks = chunks; self.writeFD = writeFD; self.readFD = readFD; self.handshake = handshake
    }

    func write() {
        data.withUnsafeBufferPointer { p in
            var off = 0
            for c in chunks {
                var sent = 0
                while sent < c {
                    let n = Glibc.write(writeFD, p.baseAddress! + off + sent, c - sent)
                    if n < 0 { if errno == EINTR { continue }; break }
                    sent += n
                }
                off += c
                if handshake {
                    var queued: Int32 = 1
                    while ioctl(readFD, UInt(FIONREAD), &queued) == 0 && queued > 0 { sched_yield() }
                }
            }
        }
        close(writeFD)
    }
}

/// One reader per line limit, kept: each owns a 1 MiB buffer, and `read` keeps
/// its state in locals, so a reader is reusable.
final class Readers {
    final class Box { let reader: LineReader; init(_ limit: Int) { reader = LineReader(lineLimit: limit) } }
    nonisolated(unsafe) static var byLimit: [Int: Box] = [:]  // libFuzzer calls from one thread
    static func box(_ limit: Int) -> Box {
        if let b = byLimit[limit] { return b }
        let b = Box(limit)
        byLimit[limit] = b
        return b
    }
}

/// The writer runs on one long-lived queue thread: no thread start per input.
enum Writer {
    static let queue = DispatchQueue(label: "fuzz-framing-writer")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFraming(_ raw: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let input = UnsafeBufferPointer(start: raw, count: size)
    let limit = 1 + Int(input[0])
    let amplify = input[1] & 0x0F == 0x0F
    let maxChunk = 1 + 273 * Int(input[1] >> 4)
    var data = Array(input[3...])
    if amplify, !data.isEmpty {
        let once = data
        data.reserveCapacity((9 << 17) + once.count)
        while data.count < 9 << 17 { data.append(contentsOf: once) }
    }
    var rng = SplitMix64(seed: UInt64(input[2]) &* 0x1_0000_0001 ^ UInt64(data.count))
    var chunks: [Int] = []
    var left = data.count
    while left > 0 {
        let c = min(left, amplify ? 65_536 : 1 + rng.below(maxChunk))
        chunks.append(c); left -= c
    }

    // The expected items: the stream split on '\n'; a last line without one counts.
    var expected: [Range<Int>] = []
    data.withUnsafeBufferPointer { p in
        var start = 0
        while start < p.count {
            guard let hit = memchr(p.baseAddress! + start, 10, p.count - start) else { expected.append(start..<p.count); break }
            let nl = UnsafeRawPointer(hit) - UnsafeRawPointer(p.baseAddress!)
            expected.append(start..<nl)
            start = nl + 1
        }
    }

    var fds: [Int32] = [0, 0]
    require(pipe(&fds) == 0, "pipe: \(errno)")
    let feed = Feed(data: data, chunks: chunks, writeFD: fds[1], readFD: fds[0], handshake: !amplify)
    let done = DispatchSemaphore(value: 0)
    Writer.queue.async { feed.write(); done.signal() }
    defer { done.wait(); close(fds[0]) }

    // Over the limit: longer than it, a trailing '\r' not counted (SPEC §1).
    func over(_ r: Range<Int>) -> Bool { r.count > limit && !(r.count == limit + 1 && data[r.upperBound - 1] == 13) }
    var index = 0
    let box = Readers.box(limit)
    do {
        let total = try data.withUnsafeBufferPointer { stream in
            try box.reader.read(fd: fds[0], source: "fuzz") { item, pos in
                require(index < expected.count, "item \(index + 1) after the last line (limit \(limit))")
                let want = expected[index]
                require(pos.line == index + 1, "line number \(pos.line), want \(index + 1)")
                require(pos.offset == Int64(want.lowerBound), "offset \(pos.offset) of line \(index + 1), want \(want.lowerBound)")
                switch item {
                case .line(let got):
                    require(!over(want), "line \(index + 1) of \(want.count) bytes handed out under limit \(limit)")
                    require(got.count == want.count && memcmp(got.baseAddress ?? UnsafePointer(stream.baseAddress!), stream.baseAddress! + want.lowerBound, got.count) == 0,
                            "line \(index + 1) is \(shown(got)), want \(shown(stream[want]))")
                    require(!got.contains(10), "line \(index + 1) holds a newline")
                case .tooLong(let n):
                    require(over(want), "line \(index + 1) of \(want.count) bytes called too long under limit \(limit)")
                    require(n > limit && n <= want.count, "tooLong(\(n)) for a line of \(want.count) bytes, limit \(limit)")
                }
                index += 1
            }
        }
        require(total == Int64(data.count), "read \(total) of \(data.count) bytes")
    } catch {
        require(false, "read failed: \(error)")
    }
    require(index == expected.count, "\(index) items for \(expected.count) lines (limit \(limit))")
    return 0
}
