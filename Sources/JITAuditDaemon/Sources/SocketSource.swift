import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Configuration of the socket source (`sources.socket` in the config file).
public struct SocketSourceConfig: Sendable, Hashable {
    public enum Listener: Sendable, Hashable {
        /// The daemon binds this path (replacing a stale socket file).
        case path(String)
        /// An already listening socket, e.g. from systemd socket activation (``ListenFDs``).
        case descriptor(Int32)
    }

    public var listener: Listener
    /// Mode of a socket file the daemon binds (ignored for a passed descriptor: the socket unit's `SocketMode=`).
    public var mode: UInt32
    /// Owner and group of a socket file the daemon binds (nil: the daemon's own).
    public var owner: UInt32?
    public var group: UInt32?
    /// Who may send: see ``PeerPolicy`` (root and the daemon's user always; empty lists: only they).
    public var policy: PeerPolicy
    /// Connections served at once; more are answered `ERR too many connections` and closed.
    public var maxConnections: Int
    /// Longest accepted line in bytes; a longer one is cut (`.tooLong`) and the next one read.
    public var lineLimit: Int
    /// A connection with no line begun that sends nothing for this long is closed.
    public var idleTimeout: Duration
    /// A line begun must end (newline) within this long.
    public var partialLineTimeout: Duration
    /// On shutdown, connections get this long to finish before they are closed (`ERR shutting down`).
    public var shutdownGrace: Duration
    /// The source name of batches and line positions (a line's number counts within its connection;
    /// the peer's credentials go with every batch).
    public var name: String

    public static let defaultPath = "/run/jitaudit/jitaudit.sock"

    public init(listener: Listener = .path(SocketSourceConfig.defaultPath), mode: UInt32 = 0o660,
                owner: UInt32? = nil, group: UInt32? = nil, policy: PeerPolicy = PeerPolicy(),
                maxConnections: Int = 256, lineLimit: Int = 65_536, idleTimeout: Duration = .seconds(60),
                partialLineTimeout: Duration = .seconds(30), shutdownGrace: Duration = .seconds(2), name: String = "socket") {
        self.listener = listener; self.mode = mode; self.owner = owner; self.group = group; self.policy = policy
        self.maxConnections = maxConnections; self.lineLimit = lineLimit; self.idleTimeout = idleTimeout
        self.partialLineTimeout = partialLineTimeout; self.shutdownGrace = shutdownGrace; self.name = name
    }
}

/// Counters of the socket source, for `STATUS=` and the shutdown summary.
public struct SocketSourceStats: Sendable, Hashable {
    /// Connections served (accepted and past the checks).
    public var connections: UInt64 = 0
    public var active = 0
    public var refusedPeers: UInt64 = 0
    public var refusedBusy: UInt64 = 0
    public var timeouts: UInt64 = 0
    public var lines: UInt64 = 0
    public var accepted: UInt64 = 0
    public var rejected: UInt64 = 0
    /// Connections that ended with an error (reset by the client, pipeline failure).
    public var failed: UInt64 = 0
    public init() {}
}

/// A Unix stream socket of newline-delimited events.
///
/// Each connection is checked against the ``PeerPolicy`` by its kernel
/// credentials, then served by a task of its own (NIO `NIOAsyncChannel`):
/// its lines go to the intake in batches with its ``Peer``, up to
/// ``batchesInFlight`` of them before the oldest one's receipt is awaited;
/// while the intake holds it the connection is not read (back-pressure
/// reaches the client through the socket buffer). Replies follow ``SocketReply``. One connection's
/// failure, garbage or overlong lines never touch another.
public final class SocketSource: Service, Sendable {
    public let config: SocketSourceConfig
    private let intake: any LineIntake
    private let logger: Logger
    private let group: any EventLoopGroup
    private let listener: SocketListener
    private let state = Mutex(SocketSourceStats())
    private let nextConnection = Atomic<Int>(0)
    private let refusalLog = Mutex(RefusalLog())

    /// Binds the socket (or takes the passed one) now, so a bad path or
    /// permission fails at startup; connections are accepted from `run()` on.
    public init(config: SocketSourceConfig, intake: any LineIntake, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(SocketSourceError) {
        self.config = config; self.intake = intake; self.logger = logger; self.group = group
        switch config.listener {
        case .path(let p):
            listener = try SocketListener.bind(path: p, mode: config.mode, owner: config.owner, group: config.group)
        case .descriptor(let fd):
            listener = try SocketListener.adopt(fd: fd)
        }
    }

    public var stats: SocketSourceStats { state.withLock { $0 } }

    /// Read bursts of one connection handed to the pipeline before the oldest
    /// one's receipt is awaited (replies stay in order; the pipeline bounds
    /// what waits for a commit over all connections).
    static let batchesInFlight = 8

    /// Serves until the task is cancelled or a graceful shutdown begins; then
    /// stops accepting, lets open connections finish for `shutdownGrace`, and
    /// closes the rest. Never throws for a single connection's trouble.
    public func run() async throws {
        let (accepted, continuation) = AsyncStream.makeStream(of: Accepted.self)
        listener.start(onAccept: { [self] fd in
            guard let a = admit(fd) else { return }
            if case .terminated = continuation.yield(a) {
                // Stopping: nobody will serve it.
                SocketListener.refuse(fd, .error(SocketReply.shuttingDown))
                state.withLock { $0.active -= 1 }
            }
        }, onError: { [logger] e in
            logger.error("socket source: accept failed", metadata: ["jitaudit.source.error": "\(e)"])
        })
        logger.info("socket source listening", metadata: ["jitaudit.source.socket": "\(describeListener)"])
        let shuttingDown = Flag()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    for await connection in accepted {
                        group.addTask { await self.serve(connection, shuttingDown: shuttingDown) }
                    }
                }
            } onGracefulShutdown: { [listener] in
                shuttingDown.set()
                listener.stop()
                continuation.finish()
            }
        } onCancel: { [listener] in
            listener.stop()
            continuation.finish()
        }
        await listener.waitUntilClosed()
        let s = stats
        logger.info("socket source stopped", metadata: [
            "jitaudit.source.connections": "\(s.connections)", "jitaudit.source.refused_peers": "\(s.refusedPeers)",
            "jitaudit.source.refused_busy": "\(s.refusedBusy)", "jitaudit.source.timeouts": "\(s.timeouts)",
            "jitaudit.source.failed": "\(s.failed)", "jitaudit.source.lines": "\(s.lines)",
            "jitaudit.source.accepted": "\(s.accepted)", "jitaudit.source.rejected": "\(s.rejected)",
        ])
    }

    private var describeListener: String {
        switch config.listener {
        case .path(let p): p
        case .descriptor(let fd): "fd \(fd)"
        }
    }

    struct Accepted: Sendable {
        var fd: Int32
        var peer: PeerCredentials
        var number: Int
    }

    /// Runs on the accept thread: checks credentials and capacity; a refused
    /// peer gets its `ERR` line here and is closed.
    private func admit(_ fd: Int32) -> Accepted? {
        let creds: PeerCredentials
        switch PeerCredentials.of(socket: fd) {
        case .failure(let e):
            SocketListener.refuse(fd, .error(SocketReply.peerNotAllowed))
            state.withLock { $0.refusedPeers += 1 }
            noteRefusal("socket source: cannot read peer credentials; connection refused", ["jitaudit.source.error": "\(e)"])
            return nil
        case .success(let c): creds = c
        }
        guard config.policy.allows(creds) else {
            SocketListener.refuse(fd, .error(SocketReply.peerNotAllowed))
            state.withLock { $0.refusedPeers += 1 }
            noteRefusal("socket source: peer not allowed; connection refused", [
                "jitaudit.source.peer.uid": "\(creds.uid)", "jitaudit.source.peer.gid": "\(creds.gid)",
                "jitaudit.source.peer.pid": "\(creds.pid)",
            ])
            return nil
        }
        let admitted = state.withLock { s -> Bool in
            guard s.active < config.maxConnections else { s.refusedBusy += 1; return false }
            s.active += 1
            s.connections += 1
            return true
        }
        guard admitted else {
            SocketListener.refuse(fd, .error(SocketReply.tooManyConnections))
            noteRefusal("socket source: too many connections; connection refused", [
                "jitaudit.source.max_connections": "\(config.maxConnections)",
                "jitaudit.source.peer.uid": "\(creds.uid)",
            ])
            return nil
        }
        let n = nextConnection.add(1, ordering: .relaxed).newValue
        return Accepted(fd: fd, peer: creds, number: n)
    }

    /// Refusals and timeouts are logged at most 10 per minute (a local user can connect in a loop); the rest are counted.
    private struct RefusalLog {
        var windowStart = ContinuousClock.now
        var logged = 0
        var suppressed = 0
    }

    private func noteRefusal(_ message: Logger.Message, _ metadata: Logger.Metadata) {
        let (log, suppressed) = refusalLog.withLock { r -> (Bool, Int) in
            let now = ContinuousClock.now
            if now - r.windowStart >= .seconds(60) {
                let s = r.suppressed
                r = RefusalLog(windowStart: now)
                r.logged = 1
                return (true, s)
            }
            if r.logged < 10 { r.logged += 1; return (true, 0) }
            r.suppressed += 1
            return (false, 0)
        }
        guard log else { return }
        var m = metadata
        if suppressed > 0 { m["jitaudit.source.refusals_not_logged"] = "\(suppressed)" }
        logger.warning(message, metadata: m)
    }

    // MARK: one connection

    private func serve(_ c: Accepted, shuttingDown: Flag) async {
        defer { state.withLock { $0.active -= 1 } }
        let source = config.name
        var meta: Logger.Metadata = ["jitaudit.source.connection": "\(c.number)", "jitaudit.source.peer.uid": "\(c.peer.uid)",
                                     "jitaudit.source.peer.pid": "\(c.peer.pid)"]
        let limits = LineFramingHandler.Limits(lineLimit: config.lineLimit, idleTimeout: .init(config.idleTimeout),
                                               partialLineTimeout: .init(config.partialLineTimeout))
        let channel: NIOAsyncChannel<LineChunk, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .withConnectedSocket(c.fd) { [self] ch in
                    ch.eventLoop.makeCompletedFuture {
                        let framer = LineFramingHandler(source: source, limits: limits, onTimeout: { [meta] in
                            self.state.withLock { $0.timeouts += 1 }
                            self.noteRefusal("socket source: connection timed out (idle or partial line); closed", meta)
                        })
                        try ch.pipeline.syncOperations.addHandler(framer)
                        return try NIOAsyncChannel<LineChunk, ByteBuffer>(
                            wrappingChannelSynchronously: ch,
                            configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2)))
                    }
                }
        } catch {
            state.withLock { $0.failed += 1 }
            logger.warning("socket source: cannot set up connection", metadata: meta.merging(["jitaudit.source.error": "\(error)"]) { $1 })
            return
        }
        logger.debug("socket source: connection", metadata: meta)
        if shuttingDown.isSet { closeForShutdown(channel.channel) }
        // `stored`: the connection's lines in the log so far (accepted, or
        // kept as rejected), always its first ones: batches commit in order.
        var accepted = 0, rejected = 0, itemised = 0, stored = 0
        do {
            try await withGracefulShutdownHandler {
                try await channel.executeThenClose { inbound, outbound in
                    // Batches handed to the pipeline whose receipts are still to come, oldest first.
                    var pending: [(lines: Int, receipt: PendingReceipt)] = []
                    func unavailable(_ error: any Error) async {
                        // Says how far the connection got, so a client sends again exactly the rest.
                        let reason = error is CancellationError ? SocketReply.shuttingDown
                            : "unavailable: " + SocketReply.storedThrough(stored) + "; \(error)"
                        try? await outbound.write(ByteBuffer(string: SocketReply.error(reason).line))
                    }
                    func settleOldest() async throws {
                        let (lines, pendingReceipt) = pending.removeFirst()
                        let receipt: BatchReceipt
                        do { receipt = try await pendingReceipt.receipt() } catch {
                            // The batches after it share its fate (nothing commits after a failure).
                            pending.removeAll()
                            await unavailable(error)
                            throw error
                        }
                        accepted += receipt.accepted
                        rejected += receipt.rejected.count
                        stored += lines
                        state.withLock {
                            $0.lines += UInt64(lines); $0.accepted += UInt64(receipt.accepted)
                            $0.rejected += UInt64(receipt.rejected.count)
                        }
                        var text = ""
                        for r in receipt.rejected where itemised < SocketReply.maxItemised {
                            text += SocketReply.reject(line: r.position.line, reason: r.reason.message).line
                            itemised += 1
                        }
                        if !text.isEmpty { try await outbound.write(ByteBuffer(string: text)) }
                    }
                    for try await chunk in inbound {
                        // The next read burst is framed and handed over while earlier ones are being
                        // committed, so a busy connection's batches share transactions.
                        do {
                            pending.append((chunk.lines.count, try await intake.enqueue(LineBatch(source: config.name, lines: chunk.lines, peer: c.peer.peer))))
                        } catch {
                            // Batches handed over before may be committed: count them in `stored`
                            // first (settling replies ERR itself when one of them failed).
                            while !pending.isEmpty { try await settleOldest() }
                            await unavailable(error)
                            throw error
                        }
                        while pending.count > SocketSource.batchesInFlight { try await settleOldest() }
                    }
                    while !pending.isEmpty { try await settleOldest() }
                    guard channel.channel.isActive else { return }  // timed out or closed for shutdown
                    try await outbound.write(ByteBuffer(string: SocketReply.ok(accepted: accepted, rejected: rejected).line))
                }
            } onGracefulShutdown: { [self] in
                shuttingDown.set()
                closeForShutdown(channel.channel)
            }
            meta["jitaudit.source.accepted"] = "\(accepted)"
            meta["jitaudit.source.rejected"] = "\(rejected)"
            logger.debug("socket source: connection done", metadata: meta)
        } catch {
            state.withLock { $0.failed += 1 }
            meta["jitaudit.source.error"] = "\(error)"
            logger.info("socket source: connection ended with an error", metadata: meta)
        }
    }

    /// Gives a connection `shutdownGrace` to finish, then tells it and closes it.
    private func closeForShutdown(_ channel: any Channel) {
        channel.eventLoop.scheduleTask(in: .init(config.shutdownGrace)) {
            guard channel.isActive else { return }
            channel.writeAndFlush(ByteBuffer(string: SocketReply.error(SocketReply.shuttingDown).line), promise: nil)
            channel.close(promise: nil)
        }
    }
}

final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

extension TimeAmount {
    init(_ d: Duration) {
        let (s, atto) = d.components
        self = .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
