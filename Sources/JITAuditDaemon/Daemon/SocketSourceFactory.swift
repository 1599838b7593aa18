import JITAuditCore
import Logging
import ServiceLifecycle

/// Builds the socket source from the settings: the socket passed by systemd
/// socket activation when there is one, else the configured path.
public enum SocketSourceFactory {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func make(pipeline: Pipeline, settings: DaemonSettings, engineConfig: EngineConfig, logger: Logger) throws -> [any Service] {
        let activated = try ListenFDs.take()
        let s = settings.socket
        var uids = Set<UInt32>(), gids = Set<UInt32>()
        for u in s.allowedUsers {
            guard let id = PeerPolicy.uid(named: u) else { throw Failure(description: "sources.socket.allowed_uids: no such user \"\(u)\"") }
            uids.insert(id)
        }
        for g in s.allowedGroups {
            guard let id = PeerPolicy.gid(named: g) else { throw Failure(description: "sources.socket.allowed_gids: no such group \"\(g)\"") }
            gids.insert(id)
        }
        var owner: UInt32?
        if let o = s.owner {
            guard let id = PeerPolicy.uid(named: o) else { throw Failure(description: "sources.socket.owner: no such user \"\(o)\"") }
            owner = id
        }
        var group: UInt32?
        if let g = s.group {
            guard let id = PeerPolicy.gid(named: g) else { throw Failure(description: "sources.socket.group: no such group \"\(g)\"") }
            group = id
        }
        let listener: SocketSourceConfig.Listener
        if let first = activated.first {
            listener = .descriptor(first.fd)
            logger.info("socket from systemd socket activation", metadata: ["jitaudit.source.fd": "\(first.fd)", "jitaudit.source.name": "\(first.name)"])
        } else if let path = s.path {
            listener = .path(path)
        } else {
            return []
        }
        let config = SocketSourceConfig(listener: listener, mode: s.mode, owner: owner, group: group,
                                        policy: PeerPolicy(allowedUIDs: uids, allowedGIDs: gids),
                                        maxConnections: s.maxConnections, lineLimit: engineConfig.lineLimit,
                                        idleTimeout: .microseconds(s.idleTimeout.micros),
                                        partialLineTimeout: .microseconds(s.partialLineTimeout.micros),
                                        shutdownGrace: .microseconds(s.shutdownGrace.micros))
        do {
            return [try SocketSource(config: config, intake: pipeline, logger: logger)]
        } catch {
            throw Failure(description: "socket: \(error)")
        }
    }
}
