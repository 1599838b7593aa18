import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A failure to set up the socket source: names the path and what to do.
public struct SocketSourceError: Error, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The listening socket: bound by the daemon or passed by systemd, and the
/// thread that accepts on it.
///
/// Accepting on a thread of its own (blocked in `poll(2)`), not in NIO's
/// server channel: each new connection's credentials are read with
/// `getsockopt` on its raw descriptor (`SO_PEERGROUPS` needs the returned
/// length, which NIO's socket option API drops), and a refused peer is
/// answered and closed right there, never reaching NIO or the pipeline.
/// Accepted connections are handed to NIO with `withConnectedSocket`.
final class SocketListener: Sendable {
    let fd: Int32
    /// The socket file we created (removed again on close), with its identity.
    private let ownedPath: (path: String, id: FileID)?
    private let stopPipe: (Int32, Int32)
    private let state = Mutex<State>(.idle)
    private enum State { case idle, running, stopped }
    /// Set once the listener is closed; waiters for that.
    private let closed = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    private init(fd: Int32, ownedPath: (path: String, id: FileID)?) {
        self.fd = fd
        self.ownedPath = ownedPath
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 { for f in fds { _ = fcntl(f, F_SETFD, FD_CLOEXEC) } }
        stopPipe = (fds[0], fds[1])
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        // Never started: nobody else closes it.
        if state.withLock({ $0 == .idle }) { closeListener() }
        close(stopPipe.0); close(stopPipe.1)
    }

    /// Takes a listening `AF_UNIX` stream socket (socket activation).
    static func adopt(fd: Int32) throws(SocketSourceError) -> SocketListener {
        var type: Int32 = 0, accepting: Int32 = 0
        var len = socklen_t(4)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0, type == Int32(SOCK_STREAM.rawValue) else {
            throw SocketSourceError(message: "fd \(fd) is not a stream socket; the socket unit must use ListenStream=")
        }
        len = 4
        if getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0, accepting == 0 {
            throw SocketSourceError(message: "fd \(fd) is not listening; the socket unit must use Accept=no")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return SocketListener(fd: fd, ownedPath: nil)
    }

    /// Binds `path` with `mode` and owner, atomically: the socket is created
    /// under a temporary name in the same directory, given its mode and owner,
    /// then renamed into place, so it is never reachable with looser
    /// permissions. A stale socket file at `path` (nobody accepts on it) is
    /// replaced; a live one, or anything that is not a socket, is an error.
    static func bind(path: String, mode: UInt32, owner: UInt32?, group: UInt32?, backlog: Int32 = 128)
        throws(SocketSourceError) -> SocketListener {
        let maxPath = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
        guard path.utf8.count <= maxPath else {
            throw SocketSourceError(message: "socket path \(path) is longer than \(maxPath) bytes")
        }
        try removeStale(path)
        let dir = FileProbe.dirname(path)
        let tmp = dir + "/.jitaudit.\(getpid()).\(UInt32.random(in: 0...UInt32.max)).sock"
        guard tmp.utf8.count <= maxPath else {
            throw SocketSourceError(message: "socket directory \(dir) is too long a path for a temporary socket beside \(path)")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw fail("socket", path) }
        func bail(_ call: String) -> SocketSourceError {
            let e = fail(call, path)
            close(fd); unlink(tmp)
            return e
        }
        guard withAddress(tmp, { Glibc.bind(fd, $0, $1) }) == 0 else { throw bail("bind") }
        guard chmod(tmp, mode_t(mode)) == 0 else { throw bail("chmod") }
        if owner != nil || group != nil {
            guard chown(tmp, owner ?? UInt32.max, group ?? UInt32.max) == 0 else { throw bail("chown") }
        }
        guard listen(fd, backlog) == 0 else { throw bail("listen") }
        guard rename(tmp, path) == 0 else { throw bail("rename") }
        var st = stat()
        let id = lstat(path, &st) == 0 ? FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) : FileID(device: 0, inode: 0)
        return SocketListener(fd: fd, ownedPath: (path, id))
    }

    private static func removeStale(_ path: String) throws(SocketSourceError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw fail("lstat", path)
        }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw SocketSourceError(message: "\(path) exists and is not a socket; not replacing it")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw fail("socket", path) }
        defer { close(probe) }
        if withAddress(path, { connect(probe, $0, $1) }) == 0 {
            throw SocketSourceError(message: "another process is listening on \(path); is jitaudit already running?")
        }
        guard errno == ECONNREFUSED else { throw fail("connect (probing for a stale socket)", path) }
        guard unlink(path) == 0 || errno == ENOENT else { throw fail("unlink (stale socket)", path) }
    }

    private static func fail(_ call: String, _ path: String) -> SocketSourceError {
        SocketSourceError(message: "\(path): \(call): \(String(cString: strerror(errno)))")
    }

    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
            raw[min(bytes.count, raw.count - 1)] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Accepts on a thread until `stop()`, calling `onAccept` with each new
    /// connection's descriptor (close-on-exec; the callee owns it). Closes the
    /// listener (and removes the socket file it created) when it stops.
    func start(onAccept: @escaping @Sendable (Int32) -> Void, onError: @escaping @Sendable (SystemError) -> Void) {
        let go = state.withLock { s in
            guard s == .idle else { return false }
            s = .running
            return true
        }
        guard go else { return }
        let t = Thread { [self] in self.acceptLoop(onAccept, onError) }
        t.name = "jitaudit-accept"
        t.start()
    }

    func stop() {
        let wasIdle = state.withLock { s in
            defer { s = .stopped }
            return s == .idle
        }
        if wasIdle { closeListener(); return }
        var b: UInt8 = 1
        _ = write(stopPipe.1, &b, 1)
    }

    private func acceptLoop(_ onAccept: @Sendable (Int32) -> Void, _ onError: @Sendable (SystemError) -> Void) {
        defer { closeListener() }
        var pfds = [pollfd(fd: stopPipe.0, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        while true {
            let n = poll(&pfds, 2, -1)
            if n < 0 { if errno == EINTR { continue }; onError(SystemError(call: "poll", errno: errno)); return }
            if pfds[0].revents != 0 { return }
            while true {
                let c = accept(fd, nil, nil)
                if c >= 0 {
                    _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                    onAccept(c)
                    continue
                }
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK { break }
                if e == EINTR || e == ECONNABORTED || e == EPROTO { continue }
                onError(SystemError(call: "accept", errno: e))
                // Out of descriptors or memory: back off instead of spinning.
                if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM { usleep(100_000) }
                break
            }
        }
    }

    private func closeListener() {
        close(fd)
        if let owned = ownedPath {
            var st = stat()
            if lstat(owned.path, &st) == 0, UInt64(st.st_ino) == owned.id.inode, UInt64(st.st_dev) == owned.id.device {
                unlink(owned.path)
            }
        }
        let waiters = closed.withLock { c in
            c.done = true
            defer { c.waiters = [] }
            return c.waiters
        }
        for w in waiters { w.resume() }
    }

    /// Returns once the listening socket is closed (and its file removed).
    func waitUntilClosed() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = closed.withLock { s in
                if s.done { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Answers a refused connection with one line and closes it. A fresh
    /// socket's send buffer is empty, so this never blocks.
    static func refuse(_ c: Int32, _ reply: SocketReply) {
        let bytes = Array(reply.line.utf8)
        _ = bytes.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        shutdown(c, Int32(SHUT_WR))
        close(c)
    }
}
