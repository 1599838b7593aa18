import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The complete lines of one read burst from a connection.
struct LineChunk: Sendable {
    var lines: [RawLine]
}

/// Frames a connection's bytes into lines and enforces its timeouts.
///
/// Lines are handed on per read burst (`channelReadComplete`), so a busy
/// client's lines reach the pipeline in batches. A line over the limit is cut:
/// its bytes are skipped up to its newline in constant memory and it is handed
/// on as `.tooLong`; the next line is read as usual. At EOF an unterminated
/// last line is handed on as it is (the client has said it is done).
///
/// Timeouts count only while the connection waits for its client: not while
/// reads are held back because the pipeline is busy (NIOAsyncChannel stops
/// passing `read()` down then). Between lines the idle timeout applies; once
/// a line has begun, it must end within the partial-line timeout. On expiry
/// the client gets `ERR timeout` and the connection is closed.
final class LineFramingHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = LineChunk
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Limits {
        var lineLimit: Int
        var idleTimeout: TimeAmount
        var partialLineTimeout: TimeAmount
    }

    private let source: String
    private let limits: Limits
    private let onTimeout: @Sendable () -> Void
    private var pending: [UInt8] = []
    private var discarding = false
    /// Stream offset of the current line's first byte, and of the next byte to come.
    private var lineStart: Int64 = 0
    private var streamOffset: Int64 = 0
    private var lineNumber = 1
    private var chunk: [RawLine] = []
    private var waitingForPeer = false
    private var lastProgress = NIODeadline.now()
    private var partialSince: NIODeadline?
    private var inputClosed = false
    private var timer: RepeatedTask?

    init(source: String, limits: Limits, onTimeout: @escaping @Sendable () -> Void) {
        self.source = source; self.limits = limits; self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let shortest = min(limits.idleTimeout, limits.partialLineTimeout)
        let every = TimeAmount.nanoseconds(max(10_000_000, min(1_000_000_000, shortest.nanoseconds / 4)))
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
            bound.value.handler.checkTimeouts(context: bound.value.context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        waitingForPeer = false
        lastProgress = .now()
        let linesBefore = lineNumber
        buffer.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            frame(base, raw.count)
        }
        if streamOffset == lineStart { partialSince = nil }
        else if partialSince == nil || lineNumber != linesBefore { partialSince = lastProgress }
    }

    private func frame(_ base: UnsafePointer<UInt8>, _ n: Int) {
        var i = 0
        while i < n {
            guard let hit = memchr(base + i, 10, n - i) else {
                let rest = n - i
                if !discarding {
                    if pending.count + rest > LineLimit.framing(limits.lineLimit) {
                        pending.removeAll(keepingCapacity: false)
                        discarding = true
                    } else {
                        pending.append(contentsOf: UnsafeBufferPointer(start: base + i, count: rest))
                    }
                }
                streamOffset += Int64(rest)
                return
            }
            let j = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
            let length = Int(streamOffset + Int64(j - i) - lineStart)
            let content: RawLine.Content
            if discarding || LineLimit.exceeded(length, last: j > i ? base[j - 1] : pending.last, limit: limits.lineLimit) {
                content = .tooLong(length)
            } else if pending.isEmpty {
                content = .bytes(Array(UnsafeBufferPointer(start: base + i, count: j - i)))
            } else {
                pending.append(contentsOf: UnsafeBufferPointer(start: base + i, count: j - i))
                content = .bytes(pending)
            }
            pending.removeAll(keepingCapacity: true)
            discarding = false
            chunk.append(RawLine(content, position: LinePosition(source: source, line: lineNumber, offset: lineStart)))
            lineNumber += 1
            streamOffset += Int64(j - i + 1)
            lineStart = streamOffset
            i = j + 1
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushChunk(context: context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            // The client ended it: an unterminated last line counts as a line.
            endUnterminatedLine { length in
                discarding || LineLimit.exceeded(length, last: pending.last, limit: limits.lineLimit) ? .tooLong(length) : .bytes(pending)
            }
            flushChunk(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Hands on the line begun and not ended by a newline, if any, as
    /// `content` makes it from its length, and starts the next.
    private func endUnterminatedLine(_ content: (Int) -> RawLine.Content) {
        guard streamOffset > lineStart else { return }
        let pos = LinePosition(source: source, line: lineNumber, offset: lineStart)
        chunk.append(RawLine(content(Int(streamOffset - lineStart)), position: pos))
        pending.removeAll()
        discarding = false
        lineNumber += 1
        lineStart = streamOffset
    }

    private func flushChunk(context: ChannelHandlerContext) {
        guard !chunk.isEmpty else { return }
        let lines = chunk
        chunk = []
        context.fireChannelRead(wrapInboundOut(LineChunk(lines: lines)))
    }

    func read(context: ChannelHandlerContext) {
        waitingForPeer = true
        context.read()
    }

    private func checkTimeouts(context: ChannelHandlerContext) {
        guard !inputClosed, context.channel.isActive else { return }
        let now = NIODeadline.now()
        guard waitingForPeer else {
            // Held back by the pipeline: the client is not the one being slow.
            lastProgress = now
            if partialSince != nil { partialSince = now }
            return
        }
        let expired: Bool
        if let since = partialSince { expired = now - since >= limits.partialLineTimeout }
        else { expired = now - lastProgress >= limits.idleTimeout }
        guard expired else { return }
        inputClosed = true
        timer?.cancel()
        if partialSince != nil {
            // The line it was cut in is recorded as rejected (a cut event is
            // not taken: its client never ended it).
            endUnterminatedLine { length in discarding ? .tooLong(length) : .cutOff(pending) }
            flushChunk(context: context)
        }
        onTimeout()
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: SocketReply.error(SocketReply.timeout).line)), promise: nil)
        context.close(promise: nil)
    }
}
