import JITAuditCore

/// Credentials of a socket peer (`SO_PEERCRED`), recorded with its events.
public struct Peer: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    public init(pid: Int32, uid: UInt32, gid: UInt32) { self.pid = pid; self.uid = uid; self.gid = gid }
    public var description: String { "pid=\(pid) uid=\(uid) gid=\(gid)" }
}

/// One line as a source read it, before decoding.
public struct RawLine: Sendable {
    public enum Content: Sendable {
        /// The line without its `\n` (a trailing `\r` is left for the decoder).
        case bytes([UInt8])
        /// A line over the limit: its length so far; its bytes were discarded.
        case tooLong(Int)
        /// A line its connection timed out in the middle of: what came of it
        /// (not taken as an event: its client did not end it; recorded).
        case cutOff([UInt8])
    }
    public var content: Content
    public var position: LinePosition
    public init(_ content: Content, position: LinePosition) { self.content = content; self.position = position }
}

/// Where a file source stands: enough to resume it exactly after a restart.
public struct FileCheckpoint: Sendable, Hashable, Codable {
    /// The path as configured (a glob's match).
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    /// Hash of the file's first bytes, to tell a new file at the same path and inode.
    public var fingerprint: UInt64
    /// Byte offset after the last complete line handed out.
    public var offset: Int64
    /// Number of the next line.
    public var line: Int
    public init(path: String, device: UInt64, inode: UInt64, fingerprint: UInt64, offset: Int64, line: Int) {
        self.path = path; self.device = device; self.inode = inode; self.fingerprint = fingerprint; self.offset = offset; self.line = line
    }
}

/// A batch of lines from one source, handed to the pipeline in order.
///
/// `checkpoint` (file sources) is where the source stands after the last line
/// of the batch; the pipeline stores it in the same transaction as the
/// batch's events, so a restart neither skips nor repeats a line.
public struct LineBatch: Sendable {
    public var source: String
    public var lines: [RawLine]
    public var peer: Peer?
    public var checkpoint: FileCheckpoint?
    public init(source: String, lines: [RawLine], peer: Peer? = nil, checkpoint: FileCheckpoint? = nil) {
        self.source = source; self.lines = lines; self.peer = peer; self.checkpoint = checkpoint
    }
}

/// What the pipeline tells a source about a batch once it is durable.
public struct BatchReceipt: Sendable {
    public var accepted: Int
    /// Rejected lines with their located reason.
    public var rejected: [(position: LinePosition, reason: Rejection)]
    public init(accepted: Int, rejected: [(position: LinePosition, reason: Rejection)]) { self.accepted = accepted; self.rejected = rejected }
}

/// The receipt of a batch the intake has taken, available once the batch is durable.
public struct PendingReceipt: Sendable {
    private let wait: @Sendable () async throws -> BatchReceipt
    public init(_ wait: @escaping @Sendable () async throws -> BatchReceipt) { self.wait = wait }
    /// Waits until the batch's events are in the audit log (throws if they could not be stored).
    public func receipt() async throws -> BatchReceipt { try await wait() }
}

/// The pipeline's intake. `submit` suspends while the pipeline is busy
/// (back-pressure: sources stop reading rather than buffer without bound) and
/// returns once the batch's events are in the audit log.
public protocol LineIntake: Sendable {
    func submit(_ batch: LineBatch) async throws -> BatchReceipt
    /// Takes the batch (in the order of calls) and returns before it is durable,
    /// so a source can hand over its next batch meanwhile; suspends while the
    /// intake is full. The default waits for durability, as `submit`.
    func enqueue(_ batch: LineBatch) async throws -> PendingReceipt
}

extension LineIntake {
    public func enqueue(_ batch: LineBatch) async throws -> PendingReceipt {
        let receipt = try await submit(batch)
        return PendingReceipt { receipt }
    }
}
