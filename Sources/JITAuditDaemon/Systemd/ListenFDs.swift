#if canImport(Glibc)
import Glibc
#endif
import CSystemd

/// Sockets passed by systemd socket activation (`LISTEN_FDS`, `LISTEN_PID`,
/// `LISTEN_FDNAMES`).
public enum ListenFDs {
    public struct Socket: Sendable, Hashable {
        public var fd: Int32
        /// `FileDescriptorName=` of the socket unit (default: the unit's name).
        public var name: String
    }

    public struct Failure: Error, Hashable, CustomStringConvertible {
        public var fd: Int32?
        public var message: String
        public var description: String { message }
    }

    /// Takes the passed sockets: `sd_listen_fds_with_names(1)` (which also
    /// unsets the `LISTEN_*` variables and sets `FD_CLOEXEC`), then checks each
    /// is a listening `AF_UNIX` stream socket. Empty when not socket-activated
    /// (or `LISTEN_PID` names another process). Throws, naming the descriptor,
    /// when systemd passed something else: a unit file mistake the operator
    /// must fix (`ListenStream=` of an absolute path, `Accept=no`).
    public static func take() throws(Failure) -> [Socket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let n = sd_listen_fds_with_names(1, &names)
        defer {
            if let names {
                var i = 0
                while let p = names[i] { free(p); i += 1 }
                free(names)
            }
        }
        if n < 0 {
            throw Failure(fd: nil, message: "sd_listen_fds failed (errno \(-n)): LISTEN_FDS or LISTEN_PID is malformed")
        }
        var out: [Socket] = []
        for i in 0..<Int(n) {
            let fd = SD_LISTEN_FDS_START + Int32(i)
            let name = names?[i].map { String(cString: $0) } ?? "unknown"
            guard isUnixStreamListener(fd) else {
                throw Failure(fd: fd, message: "socket activation passed fd \(fd) (\(name)), which is not a listening AF_UNIX stream socket; jitaudit.socket must use ListenStream=/path with Accept=no")
            }
            out.append(Socket(fd: fd, name: name))
        }
        return out
    }

    /// True when `fd` is a listening `AF_UNIX` `SOCK_STREAM` socket (`sd_is_socket_unix`).
    public static func isUnixStreamListener(_ fd: Int32) -> Bool {
        sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0
    }
}
