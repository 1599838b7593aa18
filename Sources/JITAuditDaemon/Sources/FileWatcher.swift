import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Wakes the tailer: on inotify events in the watched directories, and every
/// poll interval regardless (the fallback where inotify is unavailable or
/// blind, e.g. on network file systems or for a rotated file moved to another
/// directory).
///
/// A dedicated thread blocks in `poll(2)`: a blocking wait must not occupy
/// one of the cooperative pool's few threads. Wake-ups coalesce: however many
/// events arrive while the tailer is busy, it runs once more.
final class FileWatcher: Sendable {
    /// A wake-up for each batch of events or poll timeout (newest one kept).
    let wakeups: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let inotifyFD: Int32
    /// Read end and write end of the self-pipe that stops the thread.
    private let stopPipe: (Int32, Int32)
    private let pollMilliseconds: Int32
    /// Event masks seen since the tailer last asked (`takeStructuralChange`).
    private let seenMask = Mutex<UInt32>(0)
    private let watched = Mutex<[String: Int32]>([:])

    static let directoryMask = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
                                      | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)
    /// Events that can change which files a path or glob names.
    static let structuralMask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF
                                       | IN_MOVE_SELF | IN_ATTRIB | IN_Q_OVERFLOW | IN_IGNORED)

    /// - Parameter useInotify: false forces polling (also the fallback when `inotify_init1` fails).
    init(pollInterval: Duration, useInotify: Bool) {
        (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        inotifyFD = useInotify ? inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) : -1
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC); _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        }
        stopPipe = (fds[0], fds[1])
        let ms = pollInterval.components.seconds * 1000 + pollInterval.components.attoseconds / 1_000_000_000_000_000
        pollMilliseconds = Int32(clamping: max(1, ms))
    }

    var usesInotify: Bool { inotifyFD >= 0 }

    /// Watches a directory for changes to the files in it; true when watched
    /// (again: inotify replaces the watch of a directory already watched).
    @discardableResult
    func watch(directory: String) -> Bool {
        guard inotifyFD >= 0 else { return false }
        return watched.withLock { w in
            if w[directory] != nil { return true }
            let wd = inotify_add_watch(inotifyFD, directory, Self.directoryMask)
            guard wd >= 0 else { return false }
            w[directory] = wd
            return true
        }
    }

    var watchedDirectories: Set<String> { watched.withLock { Set($0.keys) } }

    /// True when files may have appeared, gone or moved since the last call.
    func takeStructuralChange() -> Bool {
        seenMask.withLock { m in
            defer { m = 0 }
            return m & Self.structuralMask != 0
        }
    }

    /// Makes the tailer run once more (it stopped with data left to read).
    func poke() { continuation.yield(()) }

    func start() {
        let t = Thread { [self] in self.loop() }
        t.name = "jitaudit-file-watch"
        t.start()
    }

    /// Stops the thread; it closes the descriptors on its way out.
    func stop() {
        var b: UInt8 = 1
        _ = write(stopPipe.1, &b, 1)
        continuation.finish()
    }

    private func loop() {
        defer {
            if inotifyFD >= 0 { close(inotifyFD) }
            close(stopPipe.0); close(stopPipe.1)
        }
        var pfds = [pollfd(fd: stopPipe.0, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0)]
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let n = poll(&pfds, inotifyFD >= 0 ? 2 : 1, pollMilliseconds)
            if n < 0 && errno != EINTR { return }
            if pfds[0].revents != 0 { return }
            if inotifyFD >= 0 && pfds[1].revents != 0 {
                var mask: UInt32 = 0
                while true {
                    let r = read(inotifyFD, buffer, 64 * 1024)
                    if r <= 0 { break }
                    var at = 0
                    while at + MemoryLayout<inotify_event>.size <= r {
                        let ev = buffer.load(fromByteOffset: at, as: inotify_event.self)
                        mask |= ev.mask
                        at += MemoryLayout<inotify_event>.size + Int(ev.len)
                    }
                }
                seenMask.withLock { $0 |= mask }
                // A watched directory went away: watch whatever is there anew on the next scan.
                if mask & UInt32(IN_IGNORED) != 0 { watched.withLock { $0.removeAll() } }
            }
            continuation.yield(())
        }
    }
}
