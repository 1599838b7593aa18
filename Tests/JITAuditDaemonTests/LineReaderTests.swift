import Foundation
import JITAuditDaemon
import Testing

@Suite struct LineReaderTests {
    func lines(of data: [UInt8], limit: Int) throws -> [String] {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (readFD, writeFD) = (fds[0], fds[1])
        let writer = Thread {
            data.withUnsafeBytes { p in
                var off = 0
                while off < p.count {
                    let n = write(writeFD, p.baseAddress! + off, min(7919, p.count - off))
                    if n <= 0 { break }
                    off += n
                }
            }
            close(writeFD)
        }
        writer.start()
        defer { close(readFD) }
        var out: [String] = []
        let reader = LineReader(lineLimit: limit)
        try reader.read(fd: readFD, source: "t") { item, pos in
            switch item {
            case .line(let b): out.append("\(pos.line)@\(pos.offset):" + String(decoding: b, as: UTF8.self))
            case .tooLong(let n): out.append("\(pos.line)@\(pos.offset):TOO LONG \(n >= limit)")
            }
        }
        return out
    }

    @Test func splitsLinesWithPositionsAcrossChunks() throws {
        var data: [UInt8] = []
        var want: [String] = []
        for i in 0..<50_000 {
            let l = "line \(i) " + String(repeating: "x", count: i % 97)
            want.append("\(i + 1)@\(data.count):" + l)
            data += Array(l.utf8) + [10]
        }
        #expect(try lines(of: data, limit: 1024) == want)
    }

    @Test func overlongLineIsCutAndTheNextLineSurvives() throws {
        let big = [UInt8](repeating: 65, count: 3 << 20)  // 3 MiB, past the 1 MiB buffer
        let data = Array("first\n".utf8) + big + Array("\nnext\n".utf8)
        let got = try lines(of: data, limit: 65_536)
        #expect(got == ["1@0:first", "2@6:TOO LONG true", "3@\(6 + big.count + 1):next"])
    }

    @Test func lastLineWithoutNewline() throws {
        #expect(try lines(of: Array("a\nb".utf8), limit: 100) == ["1@0:a", "2@2:b"])
    }
}
