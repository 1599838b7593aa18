import Foundation
import JITAuditCore
import JITAuditDaemon
import Testing

/// LineReader against the model of framing, over seeded random streams fed
/// through a pipe in random chunks, and over `fixtures/fuzz-regressions/framing/`
/// (inputs of the `framing` fuzz target, Fuzz/Sources/FuzzFraming). The model:
/// the stream split on '\n', a last unterminated line included; a line of at
/// most `limit` bytes (one more when the last is a '\r', which is not part
/// of the line) is handed out as it is, a longer one once as `tooLong`
/// with a length past the limit and not past the line's; lines are numbered
/// from 1 and located by byte offset. Read boundaries must not matter.
@Suite struct FramingPropertyTests {
    struct Mismatch: Error, CustomStringConvertible { var description: String }

    /// Feeds `data` through a pipe in `chunks`, each drained before the next is
    /// written (so reads end where chunks do), and checks what LineReader hands out.
    static func check(_ data: [UInt8], limit: Int, chunks: [Int]) throws {
        var expected: [Range<Int>] = []
        var start = 0
        for (k, b) in data.enumerated() where b == 10 { expected.append(start..<k); start = k + 1 }
        if start < data.count { expected.append(start..<data.count) }

        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw Mismatch(description: "pipe: \(errno)") }
        let (readFD, writeFD) = (fds[0], fds[1])
        let done = DispatchSemaphore(value: 0)
        let writer = Thread {
            data.withUnsafeBufferPointer { p in
                var off = 0
                for c in chunks {
                    var sent = 0
                    while sent < c {
                        let n = write(writeFD, p.baseAddress! + off + sent, c - sent)
                        if n <= 0 { break }
                        sent += n
                    }
                    off += c
                    var queued: Int32 = 1
                    while ioctl(readFD, UInt(FIONREAD), &queued) == 0 && queued > 0 { sched_yield() }
                }
            }
            close(writeFD)
            done.signal()
        }
        writer.start()
        defer { done.wait(); close(readFD) }

        // Over the limit: longer than it, a trailing '\r' not counted (SPEC §1).
        func over(_ r: Range<Int>) -> Bool { r.count > limit && !(r.count == limit + 1 && data[r.upperBound - 1] == 13) }
        var problems: [String] = []
        var index = 0
        let reader = LineReader(lineLimit: limit)
        let total = try reader.read(fd: readFD, source: "t") { item, pos in
            guard index < expected.count else { problems.append("item \(index + 1) after the last line"); return }
            let want = expected[index]
            if pos.line != index + 1 || pos.offset != Int64(want.lowerBound) {
                problems.append("line \(index + 1) at \(pos.line)@\(pos.offset), want \(index + 1)@\(want.lowerBound)")
            }
            switch item {
            case .line(let got):
                if over(want) { problems.append("line \(index + 1) of \(want.count) bytes handed out under limit \(limit)") }
                if !got.elementsEqual(data[want]) { problems.append("line \(index + 1) differs") }
            case .tooLong(let n):
                if !over(want) || n <= limit || n > want.count {
                    problems.append("tooLong(\(n)) for line \(index + 1) of \(want.count) bytes, limit \(limit)")
                }
            }
            index += 1
        }
        if total != Int64(data.count) { problems.append("read \(total) of \(data.count) bytes") }
        if index != expected.count { problems.append("\(index) items for \(expected.count) lines") }
        if !problems.isEmpty { throw Mismatch(description: problems.prefix(5).joined(separator: "; ")) }
    }

    @Test func randomStreamsInRandomChunksMatchTheModel() throws {
        var rng = SplitMix64(seed: 0x5EED_F4A1)
        for n in 0..<300 {
            let limit = 1 + rng.below(rng.below(4) == 0 ? 300 : 12)
            var data: [UInt8] = []
            for _ in 0..<rng.below(40) {
                // Lengths cluster around the limit, where the off-by-ones live.
                let len = max(0, limit + rng.below(5) - 2 + (rng.below(4) == 0 ? rng.below(3 * limit + 1) : 0))
                data += (0..<len).map { _ in [UInt8(ascii: "x"), 13, 0, 0xFF, UInt8(ascii: "{")][rng.below(5)] }
                if rng.below(10) != 0 { data.append(10) }
            }
            var chunks: [Int] = []
            var left = data.count
            while left > 0 { let c = min(left, 1 + rng.below(2 * limit + 3)); chunks.append(c); left -= c }
            do { try Self.check(data, limit: limit, chunks: chunks) } catch {
                Issue.record("stream #\(n) (seed 0x5EEDF4A1), limit \(limit), chunks \(chunks): \(error)")
            }
        }
    }

    /// Past the reader's 1 MiB buffer: it compacts and keeps going, and a line
    /// longer than the buffer is skipped without being held.
    @Test func streamsLongerThanTheBufferMatchTheModel() throws {
        var rng = SplitMix64(seed: 0x5EED_F4A2)
        var data: [UInt8] = []
        while data.count < 1_300_000 {
            data += Array(repeating: UInt8(ascii: "a"), count: 150 + rng.below(120)) + [10]
            if rng.below(2_000) == 0 { data += Array(repeating: UInt8(ascii: "b"), count: 1_100_000) + [10] }
        }
        try Self.check(data, limit: 256, chunks: Array(repeating: 65_536, count: data.count / 65_536) + [data.count % 65_536])
        try Self.check(data, limit: 200, chunks: Array(repeating: 4093, count: data.count / 4093) + [data.count % 4093])
    }

    /// The `framing` fuzz target's inputs: header (limit, chunking, seed), then the stream.
    @Test func fuzzRegressionsStayFixed() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/fuzz-regressions/framing")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        for name in names {
            let input = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
            guard input.count >= 3 else { continue }
            var data = Array(input[3...])
            if input[1] & 0x0F == 0x0F, !data.isEmpty {
                let once = data
                while data.count < 9 << 17 { data += once }
            }
            var rng = SplitMix64(seed: UInt64(input[2]) &* 0x1_0000_0001 ^ UInt64(data.count))
            let maxChunk = input[1] & 0x0F == 0x0F ? 65_536 : 1 + 273 * Int(input[1] >> 4)
            var chunks: [Int] = []
            var left = data.count
            while left > 0 { let c = min(left, maxChunk == 65_536 ? maxChunk : 1 + rng.below(maxChunk)); chunks.append(c); left -= c }
            do { try Self.check(data, limit: 1 + Int(input[0]), chunks: chunks) } catch { Issue.record("\(name): \(error)") }
        }
    }
}

