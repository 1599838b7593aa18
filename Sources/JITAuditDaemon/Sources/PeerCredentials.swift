#if canImport(Glibc)
import Glibc
#endif

/// Who is on the other end of a Unix socket, as the kernel recorded it at
/// `connect(2)`: `SO_PEERCRED` (pid, effective uid and gid) and
/// `SO_PEERGROUPS` (supplementary groups, Linux 4.13+).
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.pid = pid; self.uid = uid; self.gid = gid; self.groups = groups
    }

    public var peer: Peer { Peer(pid: pid, uid: uid, gid: gid) }

    public var description: String { "pid=\(pid) uid=\(uid) gid=\(gid) groups=\(groups.map(String.init).joined(separator: ","))" }

    /// Layout of `struct ucred` (not exported by Swift's Glibc without `_GNU_SOURCE`).
    private struct UCred { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }

    /// Reads the credentials of a connected `AF_UNIX` socket's peer.
    public static func of(socket fd: Int32) -> Result<PeerCredentials, SystemError> {
        var cred = UCred()
        var len = socklen_t(MemoryLayout<UCred>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0, len == socklen_t(MemoryLayout<UCred>.size) else {
            return .failure(SystemError(call: "getsockopt(SO_PEERCRED)", errno: errno))
        }
        var groups = [UInt32](repeating: 0, count: 64)
        while true {
            var glen = socklen_t(groups.count * 4)
            if getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, &groups, &glen) == 0 {
                groups.removeSubrange(Int(glen) / 4..<groups.count)
                break
            }
            if errno == ERANGE, Int(glen) / 4 > groups.count, groups.count < 1 << 16 {
                groups = [UInt32](repeating: 0, count: Int(glen) / 4)
                continue
            }
            groups = []  // an old kernel: the primary group alone
            break
        }
        return .success(PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid, groups: groups))
    }
}

/// Which peers may send events: root, the daemon's own user, and the listed
/// users and groups (a peer's primary or any supplementary group). With both
/// lists empty that is root and the daemon's user only.
public struct PeerPolicy: Sendable, Hashable {
    public var allowedUIDs: Set<UInt32>
    public var allowedGIDs: Set<UInt32>
    /// The daemon's own effective uid (always allowed).
    public var daemonUID: UInt32

    public init(allowedUIDs: Set<UInt32> = [], allowedGIDs: Set<UInt32> = [], daemonUID: UInt32 = geteuid()) {
        self.allowedUIDs = allowedUIDs; self.allowedGIDs = allowedGIDs; self.daemonUID = daemonUID
    }

    public func allows(_ c: PeerCredentials) -> Bool {
        if c.uid == 0 || c.uid == daemonUID || allowedUIDs.contains(c.uid) { return true }
        if allowedGIDs.contains(c.gid) { return true }
        return c.groups.contains { allowedGIDs.contains($0) }
    }

    /// A user name or numeric uid from the configuration.
    public static func uid(named name: String) -> UInt32? {
        if let n = UInt32(name) { return n }
        guard let pw = getpwnam(name) else { return nil }
        return pw.pointee.pw_uid
    }

    /// A group name or numeric gid from the configuration.
    public static func gid(named name: String) -> UInt32? {
        if let n = UInt32(name) { return n }
        guard let gr = getgrnam(name) else { return nil }
        return gr.pointee.gr_gid
    }
}
