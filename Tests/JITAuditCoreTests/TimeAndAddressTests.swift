import JITAuditCore
import Testing

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2026-03-02T14:07:11Z", "2026-03-02T14:07:11.000Z"),
        ("2026-03-02T14:07:11.25Z", "2026-03-02T14:07:11.250Z"),
        ("2026-03-02T14:07:11.123456789Z", "2026-03-02T14:07:11.123456Z"),
        ("2026-03-02T15:07:11+01:00", "2026-03-02T14:07:11.000Z"),
        ("2026-03-02T09:37:11-04:30", "2026-03-02T14:07:11.000Z"),
        ("2026-03-02t14:07:11z", "2026-03-02T14:07:11.000Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"),
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500Z"),
    ])
    func parsesAndFormats(_ input: String, _ expected: String) {
        #expect(RFC3339.parse(input)?.rfc3339 == expected)
    }

    @Test(arguments: ["2026-03-02 14:07", "2026-03-02T14:07:11", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                      "2026-03-02T14:07:11+24:00", "2026-03-02T14:07:11.Z", "20260302T140711Z", "2026-03-02T14:07:11+0100"])
    func rejectsMalformed(_ input: String) {
        #expect(RFC3339.parse(input) == nil)
    }

    @Test func durations() {
        #expect(TimeSpan(parsing: "60m")?.micros == 3_600_000_000)
        #expect(TimeSpan(parsing: "1h30m")?.micros == 5_400_000_000)
        #expect(TimeSpan(parsing: "7d")?.description == "7d")
        #expect(TimeSpan(parsing: "500ms")?.micros == 500_000)
        #expect(TimeSpan(parsing: "10") == nil)
        #expect(TimeSpan(parsing: "m") == nil)
        #expect(TimeSpan(parsing: "99999999999999999999s") == nil)
    }
}

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("2001:db8::1", "2001:0db8:0:0:0:0:0:1"),
        ("2001:db8::1", "2001:DB8:0000::0001"),
        ("10.0.0.1", "::ffff:10.0.0.1"),
        ("10.0.0.1", "::FFFF:0a00:0001"),
        ("::1", "0:0:0:0:0:0:0:1"),
        ("fe80::", "fe80:0:0:0:0:0:0:0"),
        ("2001:db8:0:0:1::1", "2001:db8::1:0:0:1"),
    ])
    func spellingsOfOneAddressAreEqual(_ a: String, _ b: String) {
        #expect(IPAddress(a) != nil && IPAddress(a) == IPAddress(b))
    }

    @Test(arguments: [
        ("2001:0db8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("2001:db8:1:1:1:1:1:0", "2001:db8:1:1:1:1:1:0"),
    ])
    func canonicalText(_ input: String, _ canonical: String) {
        #expect(IPAddress(input)?.description == canonical)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.4 ", "::1::", "12345::", "1:2:3:4:5:6:7:8:9",
                      ":1:2", "1:2:3:4:5:6:7:", "2001:db8::g", "fe80::1%eth0"])
    func rejectsMalformed(_ s: String) {
        #expect(IPAddress(s) == nil)
    }

    @Test func cidrs() throws {
        let n = try #require(CIDR("10.0.0.0/8"))
        #expect(n.contains(IPAddress("10.200.1.1")!))
        #expect(n.contains(IPAddress("::ffff:10.1.2.3")!))
        #expect(!n.contains(IPAddress("11.0.0.1")!))
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:0db8:ffff::1")!))
        #expect(!v6.contains(IPAddress("2001:db9::1")!))
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("8.8.8.8")!))
    }
}
