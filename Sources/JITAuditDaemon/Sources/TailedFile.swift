#if canImport(Glibc)
import Glibc
#endif

/// One open file the tailer follows: its identity, where it stands, and the
/// bytes of a line it has begun but not yet seen the end of.
///
/// Reads with `pread` from `scanOffset`; a line is handed out only once its
/// newline is there. A line over the limit is skipped up to its newline in
/// constant memory and handed out as `.tooLong` then (so a restart in the
/// middle of it resumes at its start, not in its middle).
final class TailedFile {
    enum Role: Equatable {
        /// At its path (or a glob match): read as it grows.
        case live
        /// Rotated away or deleted: drained, then dropped once it has not grown for the rotate wait.
        case orphan(since: ContinuousClock.Instant)
        /// An older generation found beside its path (a rotated copy): read to its end, then dropped.
        case recovery
        /// A copy of a generation another file is reading (same fingerprint): not read
        /// unless that file is truncated or dropped, when it takes over its position.
        case shadow
    }

    enum ReadOutcome: Equatable {
        /// At the end of what is there now.
        case end
        /// Stopped after `maxLines`; more may be there.
        case full
        /// The fingerprint just became known and no line was handed out in this call;
        /// the caller checks it against other files before reading on.
        case learnedFingerprint
    }

    /// Where the bytes are (the source of line positions).
    var path: String
    /// The path its checkpoints are stored under.
    var key: String
    /// Its key changed (renamed to a name a glob matches): the new key gets a
    /// checkpoint at once, not only with its next line, or a restart would
    /// read the file again as a new one.
    var keyNeedsCheckpoint = false
    let fd: Int32
    let id: FileID
    var role: Role
    var fingerprint: UInt64 = 0
    /// After the last complete line handed out.
    var offset: Int64 = 0
    /// Number of the next line.
    var line = 1
    /// Next byte to read: `offset` plus the pending partial line (or the skipped part of an overlong one).
    var scanOffset: Int64 = 0
    private var pending: [UInt8] = []
    private var discarding = false
    var lastSize: Int64 = -1
    var lastMtime: Int64 = -1
    var lastGrowth: ContinuousClock.Instant
    /// Order of discovery: older generations are read first.
    let sequence: Int

    init(path: String, key: String, fd: Int32, id: FileID, role: Role, sequence: Int, now: ContinuousClock.Instant) {
        self.path = path; self.key = key; self.fd = fd; self.id = id; self.role = role
        self.sequence = sequence; self.lastGrowth = now
    }

    deinit { close(fd) }

    var hasPartialLine: Bool { scanOffset > offset }

    /// Where reading stands, to take back a read that raced with a truncation.
    struct Mark {
        fileprivate var offset: Int64, line: Int, scanOffset: Int64, pending: [UInt8], discarding: Bool
    }

    func mark() -> Mark { Mark(offset: offset, line: line, scanOffset: scanOffset, pending: pending, discarding: discarding) }

    func reset(to m: Mark) {
        offset = m.offset; line = m.line; scanOffset = m.scanOffset; pending = m.pending; discarding = m.discarding
    }

    /// Continues from a stored or retired position.
    func seek(offset: Int64, line: Int) {
        self.offset = offset; self.line = line; self.scanOffset = offset
        pending.removeAll(); discarding = false
    }

    /// Starts over at 0: the file was truncated.
    func restart() {
        seek(offset: 0, line: 1)
        fingerprint = 0
    }

    /// Appends the complete lines from `scanOffset` on to `out`: at most
    /// `maxLines`, and no more once their bytes reach `maxBytes`.
    func readLines(into out: inout [RawLine], maxLines: Int, maxBytes: Int = .max, lineLimit: Int,
                   buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> ReadOutcome {
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var bytes = 0
        while out.count < maxLines {
            let n = pread(fd, base, buffer.count, off_t(scanOffset))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", errno: errno)
            }
            if n == 0 { return .end }
            var i = 0
            while i < n {
                guard let hit = memchr(base + i, 10, n - i) else {
                    let rest = n - i
                    if !discarding {
                        if pending.count + rest > LineLimit.framing(lineLimit) {
                            pending.removeAll(keepingCapacity: false)
                            discarding = true
                        } else {
                            pending.append(contentsOf: UnsafeBufferPointer(start: base + i, count: rest))
                        }
                    }
                    break
                }
                let j = UnsafeMutableRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
                if fingerprint == 0 {
                    fingerprint = FileProbe.fingerprint(fd: fd)
                    if fingerprint != 0 {
                        // Nothing of this call is handed out yet when it is the first line.
                        if offset == 0 { seek(offset: 0, line: line); return .learnedFingerprint }
                    }
                }
                let lineStart = offset
                let end = scanOffset + Int64(j)  // file offset of the newline
                let content: RawLine.Content
                if discarding {
                    content = .tooLong(Int(end - lineStart))
                    discarding = false
                } else if LineLimit.exceeded(pending.count + (j - i), last: j > i ? base[j - 1] : pending.last, limit: lineLimit) {
                    content = .tooLong(pending.count + (j - i))
                    pending.removeAll(keepingCapacity: true)
                } else if pending.isEmpty {
                    content = .bytes(Array(UnsafeBufferPointer(start: base + i, count: j - i)))
                } else {
                    pending.append(contentsOf: UnsafeBufferPointer(start: base + i, count: j - i))
                    content = .bytes(pending)
                    pending.removeAll(keepingCapacity: true)
                }
                if case .bytes(let b) = content { bytes += b.count }
                out.append(RawLine(content, position: LinePosition(source: path, line: line, offset: lineStart)))
                line += 1
                offset = end + 1
                i = j + 1
                if out.count >= maxLines || bytes >= maxBytes {
                    // Re-read the rest of this chunk next time: we stand at a line boundary.
                    scanOffset = offset
                    pending.removeAll(keepingCapacity: true)
                    discarding = false
                    return .full
                }
            }
            scanOffset += Int64(n)
        }
        return .full
    }

    /// The unterminated last line of a file that is being dropped: no newline
    /// will come any more, so what is there is the line.
    func finalLine(lineLimit: Int) -> RawLine? {
        guard scanOffset > offset else { return nil }
        let pos = LinePosition(source: path, line: line, offset: offset)
        let over = discarding || LineLimit.exceeded(pending.count, last: pending.last, limit: lineLimit)
        let raw = over ? RawLine(.tooLong(Int(scanOffset - offset)), position: pos) : RawLine(.bytes(pending), position: pos)
        pending.removeAll(); discarding = false
        offset = scanOffset
        line += 1
        return raw
    }

    func checkpoint() -> FileCheckpoint {
        FileCheckpoint(path: key, device: id.device, inode: id.inode, fingerprint: fingerprint, offset: offset, line: line)
    }
}
