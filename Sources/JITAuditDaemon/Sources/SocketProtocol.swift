/// The socket's reply protocol, shared by the daemon and `jitaudit emit`.
///
/// A client sends newline-delimited events, then half-closes (`shutdown(SHUT_WR)`).
/// The daemon answers with lines:
///
/// - `REJECT <line>: <reason>` for each rejected line (the first
///   ``maxItemised`` of a connection; the final count covers all),
/// - `OK accepted=<n> rejected=<m>` once every line of the connection is in
///   the audit log, then closes;
/// - or `ERR <reason>` and closes: `peer not allowed`, `too many connections`,
///   `timeout`, `shutting down`, `unavailable: stored=<n> … <why>` (the
///   pipeline failed: the connection's first n lines are in the audit log,
///   accepted or kept as rejected, and none after them).
///   Lines before it that were accepted stay accepted.
public enum SocketReply: Sendable, Hashable {
    case reject(line: Int, reason: String)
    case ok(accepted: Int, rejected: Int)
    case error(String)

    /// Rejections itemised per connection; the rest are only counted, so the
    /// replies of a connection stay small enough never to block the daemon on
    /// a client that does not read until it has sent everything.
    public static let maxItemised = 100
    /// Longest reason text in a `REJECT` line.
    public static let maxReasonBytes = 300

    public static let peerNotAllowed = "peer not allowed"
    public static let tooManyConnections = "too many connections"
    public static let timeout = "timeout"
    public static let shuttingDown = "shutting down"

    /// How far a connection got before `unavailable`, for the client to
    /// send again exactly the rest: first in the reason, so that a long
    /// error text cut at ``maxReasonBytes`` keeps it.
    public static func storedThrough(_ n: Int) -> String {
        "stored=\(n) (" + (n == 0 ? "none of this connection's lines is stored" : "lines 1–\(n) of this connection are stored, none after") + ")"
    }

    /// The `stored=<n>` of an `unavailable` reason; nil without one.
    public static func stored(in reason: String) -> Int? {
        guard let field = reason.split(separator: " ").first(where: { $0.hasPrefix("stored=") }) else { return nil }
        return Int(field.dropFirst("stored=".count).prefix { $0.isNumber })
    }

    /// The reply as one line, with its newline. Control characters in the
    /// reason are escaped so a reply is always exactly one line.
    public var line: String {
        switch self {
        case .reject(let line, let reason): "REJECT \(line): \(Self.clean(reason))\n"
        case .ok(let a, let r): "OK accepted=\(a) rejected=\(r)\n"
        case .error(let reason): "ERR \(Self.clean(reason))\n"
        }
    }

    /// Parses a reply line (without its newline); nil for anything else.
    public init?(parsing text: Substring) {
        if text.hasPrefix("REJECT ") {
            let rest = text.dropFirst(7)
            guard let colon = rest.firstIndex(of: ":"), let n = Int(rest[..<colon]) else { return nil }
            self = .reject(line: n, reason: String(rest[rest.index(after: colon)...].drop(while: { $0 == " " })))
        } else if text.hasPrefix("OK ") {
            var accepted: Int?, rejected: Int?
            for field in text.dropFirst(3).split(separator: " ") {
                let kv = field.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, let v = Int(kv[1]) else { continue }
                if kv[0] == "accepted" { accepted = v } else if kv[0] == "rejected" { rejected = v }
            }
            guard let accepted, let rejected else { return nil }
            self = .ok(accepted: accepted, rejected: rejected)
        } else if text.hasPrefix("ERR ") {
            self = .error(String(text.dropFirst(4)))
        } else {
            return nil
        }
    }

    static func clean(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if out.utf8.count >= maxReasonBytes { out += "…"; break }
            switch u.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0..<0x20, 0x7F, 0x80..<0xA0, 0x2028, 0x2029:
                out += "\\u{\(String(u.value, radix: 16))}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
