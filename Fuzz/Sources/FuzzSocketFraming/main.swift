// Fuzz target `socket`: the socket source's LineFramingHandler (a NIO channel
// handler) over arbitrary bytes arriving in arbitrary reads, in an
// EmbeddedChannel. The handler's file and the few daemon files it needs are
// compiled in from their sources (symlinks beside this file).
//
// Input: three header bytes, then the stream.
//   h0: line limit = 1 + h0 (1 … 256 bytes);
//   h1: largest read = 1 + 273 × (h1 >> 4) bytes; reads per burst (one
//       channelReadComplete) = 1 + (h1 & 15);
//   h2: seeds the read sizes.
// The client half-closes at the end (inputClosed).
//
// The lines handed on must be what splitting the stream on '\n' gives (a last
// unterminated line included): a line of at most `limit` bytes (one more
// when the last is a '\r', not part of the line) as it is, a
// longer one as tooLong with its length, numbered from 1 with its byte offset;
// and a REJECT reply for any of them is exactly one line that parses back.
import JITAuditCore
import NIOCore
import NIOEmbedded

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSocketFraming(_ raw: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let input = UnsafeBufferPointer(start: raw, count: size)
    let limit = 1 + Int(input[0])
    let maxRead = 1 + 273 * Int(input[1] >> 4)
    let perBurst = 1 + Int(input[1] & 15)
    let data = Array(input[3...])
    var rng = SplitMix64(seed: UInt64(input[2]) &* 0x1_0000_0001 ^ UInt64(data.count))

    var expected: [Range<Int>] = []
    var start = 0
    for (k, b) in data.enumerated() where b == 10 { expected.append(start..<k); start = k + 1 }
    if start < data.count { expected.append(start..<data.count) }

    // Over the limit: longer than it, a trailing '\r' not counted (SPEC §1).
    func over(_ r: Range<Int>) -> Bool { r.count > limit && !(r.count == limit + 1 && data[r.upperBound - 1] == 13) }
    let channel = EmbeddedChannel()
    let limits = LineFramingHandler.Limits(lineLimit: limit, idleTimeout: .seconds(3600), partialLineTimeout: .seconds(3600))
    let handler = LineFramingHandler(source: "fuzz", limits: limits, onTimeout: { require(false, "timed out with no time passing") })
    do {
        try channel.pipeline.syncOperations.addHandler(handler)
        var got: [RawLine] = []
        func drain() throws {
            while let c = try channel.readInbound(as: LineChunk.self) {
                require(!c.lines.isEmpty, "an empty chunk handed on")
                got += c.lines
            }
        }
        var off = 0, reads = 0
        while off < data.count {
            let n = min(data.count - off, 1 + rng.below(maxRead))
            var buffer = channel.allocator.buffer(capacity: n)
            buffer.writeBytes(data[off..<(off + n)])
            try channel.writeInbound(buffer)
            off += n; reads += 1
            if reads % perBurst == 0 { channel.pipeline.fireChannelReadComplete(); try drain() }
        }
        channel.pipeline.fireChannelReadComplete()
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try drain()
        _ = try? channel.finish(acceptAlreadyClosed: true)

        require(got.count == expected.count, "\(got.count) lines for \(expected.count) (limit \(limit)): \(shown(data))")
        for (k, (line, want)) in zip(got, expected).enumerated() {
            require(line.position.line == k + 1 && line.position.offset == Int64(want.lowerBound),
                    "line \(k + 1) at \(line.position.line)@\(line.position.offset), want \(k + 1)@\(want.lowerBound)")
            switch line.content {
            case .bytes(let b):
                require(!over(want), "line \(k + 1) of \(want.count) bytes handed on under limit \(limit)")
                require(b[...] == data[want], "line \(k + 1) is \(shown(b)), want \(shown(data[want]))")
                if case .failure(let r) = LineDecoder().decode(b) {
                    let reply = SocketReply.reject(line: line.position.line, reason: r.message).line
                    require(reply.utf8.last == 10 && reply.utf8.dropLast().allSatisfy { $0 != 10 && $0 != 13 }, "reply \(reply.debugDescription)")
                    guard case .reject(let n, _)? = SocketReply(parsing: reply.dropLast()[...]) else {
                        require(false, "reply does not parse: \(reply.debugDescription)"); continue
                    }
                    require(n == line.position.line, "reply names line \(n)")
                }
            case .tooLong(let n):
                require(over(want) && n > limit && n <= want.count, "tooLong(\(n)) for line \(k + 1) of \(want.count) bytes, limit \(limit)")
            case .cutOff:
                require(false, "line \(k + 1) cut off by a timeout, with no time passing")
            }
        }
    } catch {
        require(false, "channel error: \(error)")
    }
    return 0
}
