#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import JITAuditCore

/// Findings to the systemd journal through libsystemd's native protocol
/// (`sd_journal_sendv`), one entry per finding:
///
/// ```
/// MESSAGE=<summary, control characters escaped>
/// PRIORITY=2..6                 (severity, as syslog levels)
/// SYSLOG_IDENTIFIER=jitaudit
/// SYSLOG_FACILITY=10            (the configured facility, default authpriv)
/// MESSAGE_ID=<128-bit id, stable per rule>
/// JITAUDIT_RULE, JITAUDIT_SEVERITY, JITAUDIT_ACTOR, JITAUDIT_REQUEST_ID,
/// JITAUDIT_FINDING_ID, JITAUDIT_TS, JITAUDIT_EVIDENCE (JSON)
/// ```
///
/// so `journalctl -t jitaudit JITAUDIT_RULE=self_approval` works. Only
/// MESSAGE is escaped: the `JITAUDIT_*` values are the finding's own text,
/// sent binary-safe (libsystemd frames a value holding a newline with its
/// length), so they match exactly in `journalctl FIELD=value`.
///
/// `sd_journal_sendv` returns 0 when `/run/systemd/journal/socket` does not
/// exist (it "fails silently if the journal is not available"), so the sink
/// checks for the socket itself: `open` throws at startup and every finding
/// sent while it is missing is a counted failure.
public final class JournalSink: FindingSink {
    public static let socketPath = "/run/systemd/journal/socket"
    public let name = "journal"
    public let facility: SyslogFacility
    public let identifier: String
    private var messageIDs: [String: String] = [:]

    public init(facility: SyslogFacility = .authpriv, identifier: String = "jitaudit") {
        self.facility = facility
        self.identifier = identifier
    }

    /// True when journald's native socket exists. libsystemd always uses this path.
    public static var isAvailable: Bool { SyslogSink.isAvailable(path: socketPath) }

    private func checkSocket() throws {
        guard JournalSink.isAvailable else {
            throw SinkError(.unavailable, sink: name, "no journald: \(JournalSink.socketPath) does not exist; findings are not reaching the journal (sd_journal_sendv would drop them silently)")
        }
    }

    public func open() throws { try checkSocket() }

    /// The fields of a finding's entry, in order, as (name, value).
    public func fields(for f: Finding) -> [(String, String)] {
        var out: [(String, String)] = [
            ("MESSAGE", LogText.escape(f.summary)),
            ("PRIORITY", String(f.severity.syslogLevel)),
            ("SYSLOG_IDENTIFIER", identifier),
            ("SYSLOG_FACILITY", String(facility.code)),
            ("MESSAGE_ID", messageID(for: f.rule)),
            ("JITAUDIT_RULE", f.rule),
            ("JITAUDIT_SEVERITY", f.severity.rawValue),
            ("JITAUDIT_ACTOR", f.actor),
        ]
        if let r = f.requestID { out.append(("JITAUDIT_REQUEST_ID", r)) }
        out.append(("JITAUDIT_FINDING_ID", f.id))
        out.append(("JITAUDIT_TS", f.ts.rfc3339))
        out.append(("JITAUDIT_EVIDENCE", FindingFormat.evidenceJSON(f.evidence)))
        return out
    }

    private func messageID(for rule: String) -> String {
        if let id = messageIDs[rule] { return id }
        let id = JournalSink.messageID(rule: rule)
        messageIDs[rule] = id
        return id
    }

    public func emit(_ finding: Finding) throws {
        try checkSocket()
        // One buffer holding every `NAME=value`, and an iovec per field into it.
        var bytes: [UInt8] = []
        var ranges: [(start: Int, count: Int)] = []
        for (key, value) in fields(for: finding) {
            let start = bytes.count
            bytes.append(contentsOf: key.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: value.utf8)
            ranges.append((start, bytes.count - start))
        }
        let rc = bytes.withUnsafeMutableBytes { raw -> Int32 in
            let iov = ranges.map { iovec(iov_base: raw.baseAddress! + $0.start, iov_len: $0.count) }
            return iov.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        if rc < 0 {
            throw SinkError(.rejected, sink: name, "sd_journal_sendv failed for finding \(finding.id)", errno: -rc)
        }
    }

    /// The journal `MESSAGE_ID` of a rule: 128 bits derived from the rule id
    /// alone (stable across hosts, versions and restarts), shaped as an
    /// RFC 9562 version-8 UUID, 32 lowercase hex digits.
    public static func messageID(rule: String) -> String {
        let hi = hash64("jitaudit.message-id.v1\u{1F}" + rule, seed: 0xcbf2_9ce4_8422_2325)
        let lo = hash64("jitaudit.message-id.v1\u{1F}" + rule, seed: 0x6c62_272e_07bb_0142)
        var b = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: hi >> (56 - 8 * UInt64(i))) }
        for i in 0..<8 { b[8 + i] = UInt8(truncatingIfNeeded: lo >> (56 - 8 * UInt64(i))) }
        b[6] = (b[6] & 0x0F) | 0x80  // version 8
        b[8] = (b[8] & 0x3F) | 0x80  // RFC variant
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for x in b { out.append(digits[Int(x >> 4)]); out.append(digits[Int(x & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// FNV-1a with the given offset basis, finished with the splitmix64 mixer.
    private static func hash64(_ s: String, seed: UInt64) -> UInt64 {
        var h = seed
        for byte in s.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        var z = h &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
