/// An IPv4 or IPv6 address, compared as an address rather than a spelling.
///
/// Stored as 128 bits; IPv4 addresses (and IPv4-mapped IPv6 addresses such as
/// `::ffff:10.0.0.1`) live in the `::ffff:0:0/96` range so both spellings are equal.
public struct IPAddress: Hashable, Sendable, Codable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    public var isIPv4: Bool { high == 0 && (low >> 32) == 0xFFFF }

    /// Parses dotted-quad IPv4 (no leading zeros, which some parsers read as octal)
    /// or any RFC 4291 IPv6 spelling, including `::` compression and an embedded IPv4 tail.
    public init?(_ text: String) {
        var t = text
        guard let v = t.withUTF8({ IPAddress.parse($0) }) else { return nil }
        self = v
    }

    public static func parse(_ p: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if p.isEmpty || p.count > 45 { return nil }
        if !p.contains(58) {  // no ':' → IPv4
            guard let v4 = parseV4(p, from: 0, to: p.count) else { return nil }
            return IPAddress(high: 0, low: 0xFFFF_0000_0000 | UInt64(v4))
        }
        return parseV6(p)
    }

    static func parseV4(_ p: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var i = from
        while i < to {
            var n: UInt32 = 0
            var digits = 0
            let start = i
            while i < to, p[i] >= 48, p[i] <= 57 {
                n = n * 10 + UInt32(p[i] - 48); digits += 1; i += 1
                if digits > 3 { return nil }
            }
            if digits == 0 || n > 255 || (digits > 1 && p[start] == 48) { return nil }
            value = value << 8 | n
            octets += 1
            if i < to {
                guard p[i] == 46, octets < 4 else { return nil }
                i += 1
                if i == to { return nil }
            }
        }
        return octets == 4 ? value : nil
    }

    static func parseV6(_ p: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        // The eight groups on the stack: an array here was two heap
        // allocations per address, most of the parse's cost.
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 8) { groups in
            groups.initialize(repeating: 0)
            return parseV6(p, into: groups)
        }
    }

    private static func parseV6(_ p: UnsafeBufferPointer<UInt8>, into groups: UnsafeMutableBufferPointer<UInt16>) -> IPAddress? {
        var count = 0
        var gap = -1  // index in groups where "::" stands
        var i = 0
        let n = p.count
        if n >= 2, p[0] == 58, p[1] == 58 { gap = 0; i = 2; if n == 2 { return IPAddress(high: 0, low: 0) } }
        else if p[0] == 58 { return nil }
        while i < n {
            // An embedded IPv4 tail: the rest contains '.' and no ':'.
            var j = i
            var hasDot = false
            while j < n, p[j] != 58 { if p[j] == 46 { hasDot = true }; j += 1 }
            if hasDot {
                guard j == n, count <= 6, let v4 = parseV4(p, from: i, to: n) else { return nil }
                groups[count] = UInt16(v4 >> 16); groups[count + 1] = UInt16(v4 & 0xFFFF)
                count += 2; i = n; break
            }
            var v: UInt32 = 0
            var digits = 0
            while i < n, let h = hexValue(p[i]) {
                v = v << 4 | UInt32(h); digits += 1; i += 1
                if digits > 4 { return nil }
            }
            guard digits > 0, count < 8 else { return nil }
            groups[count] = UInt16(v); count += 1
            if i == n { break }
            guard p[i] == 58 else { return nil }
            i += 1
            if i < n, p[i] == 58 {
                guard gap < 0 else { return nil }
                gap = count; i += 1
                if i == n { break }
            } else if i == n {
                return nil  // trailing single ':'
            }
        }
        if gap >= 0 {
            guard count < 8 else { return nil }
            // Move the groups after "::" to the end, zeros in between (from the last, as the ranges may overlap).
            let tail = count - gap
            var k = tail - 1
            while k >= 0 { groups[8 - tail + k] = groups[gap + k]; k -= 1 }
            for z in gap..<(8 - tail) { groups[z] = 0 }
        } else if count != 8 {
            return nil
        }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for k in 0..<4 { hi = hi << 16 | UInt64(groups[k]) }
        for k in 4..<8 { lo = lo << 16 | UInt64(groups[k]) }
        return IPAddress(high: hi, low: lo)
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    /// Canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (lower case,
    /// longest run of zero groups compressed).
    public var description: String {
        if isIPv4 {
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        }
        var g = [UInt16](repeating: 0, count: 8)
        for k in 0..<4 { g[k] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(k))) }
        for k in 0..<4 { g[4 + k] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(k))) }
        var bestStart = -1, bestLen = 1
        var k = 0
        while k < 8 {
            if g[k] == 0 {
                var e = k
                while e < 8, g[e] == 0 { e += 1 }
                if e - k > bestLen { bestStart = k; bestLen = e - k }
                k = e
            } else { k += 1 }
        }
        var out = ""
        k = 0
        while k < 8 {
            if k == bestStart {
                out += "::"; k += bestLen; continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(g[k], radix: 16)
            k += 1
        }
        return out
    }
}

/// A CIDR block such as `10.0.0.0/8` or `2001:db8::/32`.
public struct CIDR: Hashable, Sendable, Codable, CustomStringConvertible {
    public var network: IPAddress
    /// Prefix length over the 128-bit form (IPv4 prefixes are stored +96).
    public var prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let ip = IPAddress(String(parts[0])) else { return nil }
        let maxLen = ip.isIPv4 ? 32 : 128
        var len = maxLen
        if parts.count == 2 {
            guard let l = Int(parts[1]), l >= 0, l <= maxLen, !parts[1].hasPrefix("+") else { return nil }
            len = l
        }
        prefix = ip.isIPv4 ? len + 96 : len
        network = CIDR.mask(ip, prefix)
    }

    static func mask(_ ip: IPAddress, _ prefix: Int) -> IPAddress {
        let hiMask: UInt64 = prefix >= 64 ? ~0 : (prefix == 0 ? 0 : ~0 << UInt64(64 - prefix))
        let loMask: UInt64 = prefix <= 64 ? 0 : (prefix >= 128 ? ~0 : ~0 << UInt64(128 - prefix))
        return IPAddress(high: ip.high & hiMask, low: ip.low & loMask)
    }

    public func contains(_ ip: IPAddress) -> Bool { CIDR.mask(ip, prefix) == network }

    /// Why `text` (which parses) is not a network as written: an address
    /// with host bits set (`10.1.2.3/8`) covers its whole block, which is
    /// rarely what was meant in a list of trusted networks. Nil when it is.
    public static func hostBitsProblem(_ text: String) -> String? {
        guard let c = CIDR(text), let ip = IPAddress(String(text.split(separator: "/")[0])), ip != c.network else { return nil }
        return "\(quoted(text)) has host bits set and would trust all of \(c); write \(c), or the prefix meant (\(ip)/\(ip.isIPv4 ? 32 : 128) for one address)"
    }

    public var description: String {
        network.isIPv4 && prefix >= 96 ? "\(network)/\(prefix - 96)" : "\(network)/\(prefix)"
    }
}
