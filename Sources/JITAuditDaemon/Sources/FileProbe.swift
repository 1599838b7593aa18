#if canImport(Glibc)
import Glibc
#endif

/// A file's identity: device and inode. Stable across renames, not across copies.
struct FileID: Hashable, Sendable, CustomStringConvertible {
    var device: UInt64
    var inode: UInt64
    var description: String { "\(device):\(inode)" }
}

/// What `stat(2)` says about a path or descriptor, reduced to what the tailer uses.
struct FileStat: Sendable {
    var id: FileID
    var size: Int64
    /// Modification time in nanoseconds since the epoch (change detection only).
    var mtime: Int64
    var isRegular: Bool
    var isDirectory: Bool
    var links: UInt64

    init(_ st: stat) {
        id = FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        size = Int64(st.st_size)
        mtime = Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec)
        isRegular = (st.st_mode & S_IFMT) == S_IFREG
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        links = UInt64(st.st_nlink)
    }
}

/// An OS call that failed, with its `errno`.
public struct SystemError: Error, Hashable, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public init(call: String, errno: Int32) { self.call = call; self.errno = errno }
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// `stat(2)`; at file scope, where the name is not shadowed by `FileProbe.stat`.
private func systemStat(_ path: UnsafePointer<CChar>, _ st: UnsafeMutablePointer<stat>) -> Int32 {
    stat(path, st)
}

enum FileProbe {
    /// `stat(2)` following symlinks (a configured symlink to a log file is tailed as that file).
    static func stat(path: String) -> Result<FileStat, SystemError> {
        var st = Glibc.stat()
        if systemStat(path, &st) != 0 { return .failure(SystemError(call: "stat", errno: errno)) }
        return .success(FileStat(st))
    }

    static func stat(fd: Int32) -> Result<FileStat, SystemError> {
        var st = Glibc.stat()
        if fstat(fd, &st) != 0 { return .failure(SystemError(call: "fstat", errno: errno)) }
        return .success(FileStat(st))
    }

    /// Opens a file for reading (`O_CLOEXEC`, `O_NOCTTY`; non-blocking so a FIFO never stalls the tailer).
    static func openForReading(_ path: String) -> Result<Int32, SystemError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        if fd < 0 { return .failure(SystemError(call: "open", errno: errno)) }
        return .success(fd)
    }

    /// Bytes hashed at most for a fingerprint.
    static let fingerprintBytes = 1024

    /// FNV-1a of the file's first line (with its newline), or of its first
    /// `fingerprintBytes` when the first line is longer. Once known it never
    /// changes while the file is only appended to, so it tells a rewritten
    /// (truncated) file from the same file grown, and a copy from a new file.
    /// 0 while unknown: the file has no complete first line and fewer bytes
    /// than that; then no line of it has been handed out either.
    static func fingerprint(fd: Int32) -> UInt64 {
        var buf = [UInt8](repeating: 0, count: fingerprintBytes)
        var got = 0
        while got < fingerprintBytes {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, fingerprintBytes - got, off_t(got)) }
            if n < 0 { if errno == EINTR { continue }; return 0 }
            if n == 0 { break }
            got += n
        }
        let end: Int
        if let nl = buf[0..<got].firstIndex(of: 10) { end = nl + 1 } else if got == fingerprintBytes { end = got } else { return 0 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in buf[0..<end] { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h == 0 ? 1 : h
    }

    /// True when the pattern has glob(3) metacharacters.
    static func isPattern(_ s: String) -> Bool {
        s.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
    }

    /// Expands a glob(3) pattern (sorted; no match is an empty list; a literal path is returned as is).
    /// The paths `pattern` matches now; nil when the directory could not be
    /// read (out of descriptors, say), which is not "nothing matches".
    static func expand(_ pattern: String) -> [String]? {
        guard isPattern(pattern) else { return [pattern] }
        var g = glob_t()
        defer { globfree(&g) }
        // Without an error callback glob() skips a directory it cannot open
        // and reports no match: out of descriptors, every open file would
        // look rotated away. Abort on that instead (an unreadable directory
        // for want of permission is still skipped).
        let rc = glob(pattern, 0, { _, err in err == EMFILE || err == ENFILE || err == ENOMEM ? 1 : 0 }, &g)
        if rc == GLOB_NOMATCH { return [] }
        guard rc == 0 else { return nil }
        var out: [String] = []
        out.reserveCapacity(Int(g.gl_pathc))
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out
    }

    static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// True when `candidate` is in the directory of `path` and its name extends
    /// that name: how rotation names old generations. Only such files are
    /// taken for copies of a generation by fingerprint, so two unrelated files
    /// that happen to start with the same line are both read.
    static func isRotatedSibling(_ candidate: String, of path: String) -> Bool {
        let a = basename(candidate), b = basename(path)
        return dirname(candidate) == dirname(path) && a.count > b.count && a.hasPrefix(b)
    }

    /// Regular files beside `path` whose name starts with its name and goes on
    /// (`app.log.1`, `app.log-20260302`): where rotation puts old generations.
    static func rotatedSiblings(of path: String) -> [String] {
        let dir = dirname(path), base = basename(path)
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.count > base.count, name.hasPrefix(base) {
                out.append(dir == "/" ? "/" + name : dir + "/" + name)
            }
        }
        return out.sorted()
    }
}
