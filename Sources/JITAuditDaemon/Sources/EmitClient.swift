#if canImport(Glibc)
import Glibc
#endif

/// The client side of the socket protocol (``SocketReply``), used by
/// `jitaudit emit`: sends the lines, half-closes, reads the replies.
///
/// Writes and reads at once (`poll(2)`), so replies the daemon sends while
/// the client is still sending never deadlock the two. Blocking: call it from
/// a thread (or a command-line tool), not from the cooperative pool.
public enum EmitClient {
    public struct Exchange: Sendable, Hashable {
        public var replies: [SocketReply]
        /// Bytes of the payload the daemon did not take (it closed early).
        public var unsent: Int
        /// The final reply: `OK` or `ERR`, nil when the connection ended without one.
        public var verdict: SocketReply? { replies.last { if case .reject = $0 { false } else { true } } }
    }

    public struct Failure: Error, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Connects to `socketPath`, sends `payload` (whole lines), half-closes,
    /// and collects the replies until the daemon closes or `timeout` passes.
    public static func exchange(socketPath: String, payload: [UInt8], timeout: Duration = .seconds(30)) throws(Failure) -> Exchange {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard socketPath.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw Failure(message: "cannot connect to \(socketPath): path too long")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        // Non-blocking: a full listen backlog (EAGAIN) is retried until the deadline instead of hanging.
        while SocketListener.withAddress(socketPath, { connect(fd, $0, $1) }) != 0 {
            let e = errno
            if (e == EAGAIN || e == EINTR) && clock.now < deadline { usleep(20_000); continue }
            let hint = e == ENOENT || e == ECONNREFUSED ? " (is jitaudit running?)" : e == EACCES ? " (not allowed: check the socket's group and mode)" : ""
            throw Failure(message: "cannot connect to \(socketPath): \(String(cString: strerror(e)))\(hint)")
        }
        var sent = 0
        var writing = true
        if payload.isEmpty { shutdown(fd, Int32(SHUT_WR)); writing = false }
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        reading: while true {
            let left = deadline - clock.now
            guard left > .zero else { throw Failure(message: "no answer from \(socketPath) within \(timeout)") }
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            var p = pollfd(fd: fd, events: Int16(POLLIN) | (writing ? Int16(POLLOUT) : 0), revents: 0)
            let n = poll(&p, 1, ms)
            if n < 0 { if errno == EINTR { continue }; throw Failure(message: "poll: \(String(cString: strerror(errno)))") }
            if n == 0 { continue }
            if writing && p.revents & (Int16(POLLOUT) | Int16(POLLERR) | Int16(POLLHUP)) != 0 {
                let w = payload.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
                if w > 0 {
                    sent += w
                    if sent == payload.count { shutdown(fd, Int32(SHUT_WR)); writing = false }
                } else if w < 0 && errno != EAGAIN && errno != EINTR {
                    writing = false  // the daemon closed: read what it said
                }
            }
            if p.revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                while true {
                    let r = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                    if r > 0 { received += buf[0..<r]; continue }
                    if r == 0 { break reading }
                    if errno == EAGAIN || errno == EINTR { break }
                    break reading  // reset by the daemon: keep what arrived
                }
            }
        }
        let replies = received.split(separator: 10, omittingEmptySubsequences: true).compactMap {
            SocketReply(parsing: Substring(String(decoding: $0, as: UTF8.self)))
        }
        return Exchange(replies: replies, unsent: payload.count - sent)
    }
}
