import JITAuditCore
import Testing

/// Each default rule at its boundaries (SPEC §2). 2026-03-02 is a Monday.
@Suite struct DefaultRuleTests {
    // MARK: off_hours_burst

    func offHoursRequests(_ times: [String], requester: String = "mallory") -> [String] {
        times.enumerated().map { i, t in line(t, "request", "r\(i)", requester) }
            + times.enumerated().map { i, t in line(t, "reject", "r\(i)", "boss") }
    }

    @Test func burstNeedsFiveOffHoursRequestsWithinAnHour() throws {
        let four = try run(offHoursRequests(["2026-03-02T19:00:00Z", "2026-03-02T19:10:00Z", "2026-03-02T19:20:00Z", "2026-03-02T19:30:00Z"]))
        #expect(rules(four, "off_hours_burst").isEmpty)
        let five = try run(offHoursRequests(["2026-03-02T19:00:00Z", "2026-03-02T19:10:00Z", "2026-03-02T19:20:00Z", "2026-03-02T19:30:00Z", "2026-03-02T19:40:00Z"]))
        let f = try #require(rules(five, "off_hours_burst").first)
        #expect(f.ts.rfc3339 == "2026-03-02T19:40:00.000Z")
        #expect(f.actor == "mallory")
        #expect(f.requestID == nil)
        #expect(f.evidence.requestIDs.count == 5)
    }

    @Test func requestsSixtyMinutesOldNoLongerCount() throws {
        let edge = try run(offHoursRequests(["2026-03-02T19:00:00Z", "2026-03-02T19:15:00Z", "2026-03-02T19:30:00Z", "2026-03-02T19:45:00Z", "2026-03-02T20:00:00Z"]))
        #expect(rules(edge, "off_hours_burst").isEmpty)
        let inside = try run(offHoursRequests(["2026-03-02T19:00:00Z", "2026-03-02T19:15:00Z", "2026-03-02T19:30:00Z", "2026-03-02T19:45:00Z", "2026-03-02T19:59:59.999Z"]))
        #expect(rules(inside, "off_hours_burst").count == 1)
    }

    @Test func oneBurstGivesOneFindingAndRearmsAfterItThins() throws {
        var times: [String] = []
        for m in stride(from: 0, to: 40, by: 5) { times.append(String(format: "2026-03-02T19:%02d:00Z", m)) }  // 8 in 35 min
        times += ["2026-03-02T21:00:00Z", "2026-03-02T21:01:00Z", "2026-03-02T21:02:00Z", "2026-03-02T21:03:00Z", "2026-03-02T21:04:00Z"]
        let fs = rules(try run(offHoursRequests(times)), "off_hours_burst")
        #expect(fs.map(\.ts.rfc3339) == ["2026-03-02T19:20:00.000Z", "2026-03-02T21:04:00.000Z"])
    }

    @Test func businessHoursEndAtSix() throws {
        // 17:59 is business hours; 18:00 is not.
        let before = try run(offHoursRequests(["2026-03-02T17:55:00Z", "2026-03-02T17:56:00Z", "2026-03-02T17:57:00Z", "2026-03-02T17:58:00Z", "2026-03-02T17:59:59Z"]))
        #expect(rules(before, "off_hours_burst").isEmpty)
        let after = try run(offHoursRequests(["2026-03-02T18:00:00Z", "2026-03-02T18:01:00Z", "2026-03-02T18:02:00Z", "2026-03-02T18:03:00Z", "2026-03-02T18:04:00Z"]))
        #expect(rules(after, "off_hours_burst").count == 1)
        let morning = try run(offHoursRequests(["2026-03-02T07:56:00Z", "2026-03-02T07:57:00Z", "2026-03-02T07:58:00Z", "2026-03-02T07:59:00Z", "2026-03-02T08:00:00Z"]))
        #expect(rules(morning, "off_hours_burst").isEmpty, "08:00 is business hours, so only 4 are off-hours")
    }

    @Test func weekendsAndHolidaysAreOffHours() throws {
        let saturday = ["2026-03-07T11:00:00Z", "2026-03-07T11:01:00Z", "2026-03-07T11:02:00Z", "2026-03-07T11:03:00Z", "2026-03-07T11:04:00Z"]
        #expect(rules(try run(offHoursRequests(saturday)), "off_hours_burst").count == 1)
        let holiday = ["2026-12-24T11:00:00Z", "2026-12-24T11:01:00Z", "2026-12-24T11:02:00Z", "2026-12-24T11:03:00Z", "2026-12-24T11:04:00Z"]
        #expect(rules(try run(offHoursRequests(holiday)), "off_hours_burst").isEmpty)
        #expect(rules(try run(offHoursRequests(holiday), config: "holidays: [2026-12-24]"), "off_hours_burst").count == 1)
    }

    @Test func berlinBusinessHoursFollowDaylightSaving() throws {
        let config = "timezone: Europe/Berlin"
        // Friday 27 March 2026 (CET, UTC+1): 06:30Z is 07:30 local, off-hours.
        let cet = ["2026-03-27T06:30:00Z", "2026-03-27T06:31:00Z", "2026-03-27T06:32:00Z", "2026-03-27T06:33:00Z", "2026-03-27T06:34:00Z"]
        #expect(rules(try run(offHoursRequests(cet), config: config), "off_hours_burst").count == 1)
        // Monday 30 March 2026 (CEST, UTC+2): 06:30Z is 08:30 local, business hours.
        let cest = ["2026-03-30T06:30:00Z", "2026-03-30T06:31:00Z", "2026-03-30T06:32:00Z", "2026-03-30T06:33:00Z", "2026-03-30T06:34:00Z"]
        #expect(rules(try run(offHoursRequests(cest), config: config), "off_hours_burst").isEmpty)
        // 15:59Z is 17:59 CEST (business), 16:00Z is 18:00 CEST (off-hours).
        let late = ["2026-03-30T15:59:00Z", "2026-03-30T16:00:00Z", "2026-03-30T16:01:00Z", "2026-03-30T16:02:00Z", "2026-03-30T16:03:00Z"]
        #expect(rules(try run(offHoursRequests(late), config: config), "off_hours_burst").isEmpty)
        let later = late + ["2026-03-30T16:04:00Z"]
        #expect(rules(try run(offHoursRequests(later), config: config), "off_hours_burst").count == 1)
    }

    @Test func requesterIdentityIgnoresCaseAndSpaces() throws {
        let names = ["mallory", "Mallory", " MALLORY", "mallory ", "MaLlOrY"]
        var lines: [String] = []
        for (i, n) in names.enumerated() { lines.append(line("2026-03-02T19:0\(i):00Z", "request", "r\(i)", n)) }
        let fs = rules(try run(lines), "off_hours_burst")
        #expect(fs.count == 1)
    }

    // MARK: self_approval

    @Test func selfApprovalComparesIdentities() throws {
        let lines = [
            line("2026-03-02T10:00:00Z", "request", "r1", "Alice"),
            line("2026-03-02T10:05:00Z", "approve", "r1", " alice "),
            line("2026-03-02T10:00:00Z", "request", "r2", "alice"),
            line("2026-03-02T10:05:00Z", "approve", "r2", "bob"),
        ]
        let fs = rules(try run(lines), "self_approval")
        #expect(fs.map(\.requestID) == ["r1"])
        #expect(fs.first?.severity == .critical)
        #expect(fs.first?.actor == "alice")
    }

    @Test func selfApprovalUsesTheRequesterFieldWhenTheRequestIsUnseen() throws {
        let fs = rules(try run([line("2026-03-02T10:05:00Z", "approve", "r1", "carol", ["requester": "Carol"])]), "self_approval")
        #expect(fs.count == 1)
    }

    @Test func summaryNamesTheRequest() throws {
        let lines = [
            line("2026-03-02T14:00:00Z", "request", "req-8812", "alice", ["action": "deploy", "resource": "payments-api", "environment": "prod"]),
            line("2026-03-02T14:07:11.250Z", "approve", "req-8812", "alice"),
        ]
        let f = try #require(rules(try run(lines), "self_approval").first)
        #expect(f.summary == "alice approved their own request req-8812 (deploy payments-api to prod)")
        #expect(f.ts.rfc3339 == "2026-03-02T14:07:11.250Z")
    }

    // MARK: rubber_stamp

    @Test(arguments: [("2026-03-02T10:00:29.900Z", true), ("2026-03-02T10:00:30Z", false), ("2026-03-02T10:00:30.001Z", false)])
    func rubberStampUnderThirtySeconds(_ approveAt: String, _ fires: Bool) throws {
        let lines = [
            line("2026-03-02T10:00:00Z", "request", "r1", "alice", ["priority": "high", "justification": "a real reason here"]),
            line(approveAt, "approve", "r1", "bob"),
        ]
        #expect(rules(try run(lines), "rubber_stamp").count == (fires ? 1 : 0))
    }

    @Test(arguments: ["low", "normal"])
    func rubberStampOnlyForHighAndCritical(_ priority: String) throws {
        let lines = [
            line("2026-03-02T10:00:00Z", "request", "r1", "alice", ["priority": priority]),
            line("2026-03-02T10:00:05Z", "approve", "r1", "bob"),
        ]
        #expect(rules(try run(lines), "rubber_stamp").isEmpty)
    }

    // MARK: missing_justification

    func approveHigh(_ justification: String?, priority: String = "critical") -> [String] {
        var req: KeyValuePairs<String, String> = ["priority": priority]
        if let j = justification { req = ["priority": priority, "justification": j] }
        return [line("2026-03-02T10:00:00Z", "request", "r1", "alice", req), line("2026-03-02T10:10:00Z", "approve", "r1", "bob")]
    }

    @Test func justificationOfNineCharactersIsMissingTenIsNot() throws {
        #expect(rules(try run(approveHigh("123456789")), "missing_justification").count == 1)
        #expect(rules(try run(approveHigh("1234567890")), "missing_justification").isEmpty)
        #expect(rules(try run(approveHigh("   12345678   ")), "missing_justification").count == 1, "trimmed before counting")
        // Characters as a reader sees them, not bytes: 9 CJK characters are 27 bytes.
        #expect(rules(try run(approveHigh("修复生产环境配置错")), "missing_justification").count == 1)
        #expect(rules(try run(approveHigh("修复生产环境配置错误")), "missing_justification").isEmpty)
        #expect(rules(try run(approveHigh("e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}")), "missing_justification").count == 1)
    }

    @Test(arguments: ["n/a", "NA", "None", "null", "-", ".", "ASAP", "tbd", "Test", "fix", "URGENT", "  n/a  "])
    func placeholdersAreMissing(_ p: String) throws {
        #expect(rules(try run(approveHigh(p)), "missing_justification").count == 1)
    }

    @Test func absentAndBlankAreMissing() throws {
        #expect(rules(try run(approveHigh(nil)), "missing_justification").count == 1)
        #expect(rules(try run(approveHigh("")), "missing_justification").count == 1)
        #expect(rules(try run(approveHigh("   \t ")), "missing_justification").count == 1)
        #expect(rules(try run(approveHigh(nil, priority: "normal")), "missing_justification").isEmpty)
        #expect(rules(try run(approveHigh(nil, priority: "high")), "missing_justification").count == 1)
    }

    // MARK: execute_without_approval

    @Test func executeWithoutAnyApproval() throws {
        let fs = rules(try run([line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T10:10:00Z", "execute", "r1", "alice")]), "execute_without_approval")
        #expect(fs.count == 1)
        #expect(fs.first?.actor == "alice")
        #expect(rules(try run([line("2026-03-02T10:10:00Z", "execute", "orphan", "eve")]), "execute_without_approval").count == 1)
    }

    @Test func executeAfterApprovalIsFine() throws {
        let lines = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T10:05:00Z", "approve", "r1", "bob"),
                     line("2026-03-02T10:10:00Z", "execute", "r1", "alice")]
        #expect(rules(try run(lines), "execute_without_approval").isEmpty)
    }

    @Test(arguments: ["reject", "revoke", "cancel", "expire"])
    func executeAfterALaterNegativeDecision(_ kind: String) throws {
        let lines = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T10:05:00Z", "approve", "r1", "bob"),
                     line("2026-03-02T10:06:00Z", kind, "r1", "bob"), line("2026-03-02T10:10:00Z", "execute", "r1", "alice")]
        #expect(rules(try run(lines), "execute_without_approval").count == 1)
    }

    @Test func executeAfterTheApprovalExpired() throws {
        func lines(_ expires: String) -> [String] {
            [line("2026-03-02T10:00:00Z", "request", "r1", "alice"),
             line("2026-03-02T10:05:00Z", "approve", "r1", "bob", ["expires_at": expires]),
             line("2026-03-02T10:10:00Z", "execute", "r1", "alice")]
        }
        #expect(rules(try run(lines("2026-03-02T10:09:59Z")), "execute_without_approval").count == 1)
        #expect(rules(try run(lines("2026-03-02T10:10:00Z")), "execute_without_approval").isEmpty)
        #expect(rules(try run(lines("2026-03-02T11:10:00+01:00")), "execute_without_approval").isEmpty)
    }

    @Test func lateApproveWithinLatenessPreventsTheFinding() throws {
        // The approve is written after the execute but stamped before it.
        let lines = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T10:10:00Z", "execute", "r1", "alice"),
                     line("2026-03-02T10:09:30Z", "approve", "r1", "bob"), line("2026-03-02T10:30:00Z", "request", "r2", "zed")]
        #expect(rules(try run(lines), "execute_without_approval").isEmpty)
        // Beyond the lateness it is too late: the execute was already judged.
        let tooLate = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T10:10:00Z", "execute", "r1", "alice"),
                       line("2026-03-02T10:30:00Z", "request", "r2", "zed"), line("2026-03-02T10:09:30Z", "approve", "r1", "bob")]
        #expect(rules(try run(tooLate), "execute_without_approval").count == 1)
    }

    // MARK: stale_request

    @Test func staleAfterFourHoursWithTheDeadlineAsTs() throws {
        let lines = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T14:00:00Z", "request", "r2", "zed"),
                     line("2026-03-02T14:00:01Z", "approve", "r2", "bob")]
        let fs = rules(try run(lines), "stale_request")
        #expect(fs.map(\.ts.rfc3339) == ["2026-03-02T14:00:00.000Z"])
        #expect(fs.first?.actor == "alice")
        #expect(fs.first?.requestID == "r1")
    }

    @Test func decisionAtTheDeadlineIsInTime() throws {
        let lines = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T14:00:00Z", "reject", "r1", "bob"),
                     line("2026-03-02T20:00:00Z", "request", "r2", "zed"), line("2026-03-02T20:01:00Z", "approve", "r2", "bob")]
        #expect(rules(try run(lines), "stale_request").isEmpty)
        let late = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T14:00:00.001Z", "approve", "r1", "bob")]
        #expect(rules(try run(late), "stale_request").count == 1)
    }

    @Test func replayEndsAtTheLastEventTime() throws {
        // The deadline 14:00 is not reached by a stream that ends at 13:59.
        let lines = [line("2026-03-02T10:00:00Z", "request", "r1", "alice"), line("2026-03-02T13:59:00Z", "request", "r2", "zed"),
                     line("2026-03-02T13:59:30Z", "approve", "r2", "bob")]
        #expect(rules(try run(lines), "stale_request").isEmpty)
    }

    // MARK: unknown_source

    func sourceStory(_ ip: String, device: String = "dev-b1", trusted: String = "") throws -> [Finding] {
        var lines: [String] = []
        lines.append(line("2026-03-02T10:00:00Z", "request", "r0", "alice"))
        lines.append(line("2026-03-02T10:05:00Z", "approve", "r0", "bob", ["source_ip": "2001:db8::1", "device_id": "dev-b1"]))
        lines.append(line("2026-03-10T10:00:00Z", "request", "r1", "alice"))
        lines.append(line("2026-03-10T10:05:00Z", "approve", "r1", "Bob", ["source_ip": ip, "device_id": device]))
        return rules(try run(lines, config: trusted), "unknown_source")
    }

    @Test(arguments: ["2001:db8::1", "2001:0db8:0:0:0:0:0:1", "2001:DB8::0:1"])
    func everySpellingOfAKnownAddressIsKnown(_ ip: String) throws {
        #expect(try sourceStory(ip).isEmpty)
    }

    @Test func newAddressOrDeviceFiresNamingWhatIsNew() throws {
        let ip = try sourceStory("203.0.113.9")
        #expect(ip.count == 1)
        #expect(ip.first?.evidence.newValues == ["source_ip": "203.0.113.9"])
        let both = try sourceStory("203.0.113.9", device: "dev-new")
        #expect(both.first?.evidence.newValues == ["source_ip": "203.0.113.9", "device_id": "dev-new"])
        #expect(try sourceStory("2001:db8::1", device: "dev-new").first?.evidence.newValues == ["device_id": "dev-new"])
    }

    @Test func trustedNetworksCountAsKnown() throws {
        #expect(try sourceStory("10.1.2.3", trusted: "trusted_networks: [10.0.0.0/8]").isEmpty)
        #expect(try sourceStory("::ffff:10.1.2.3", trusted: "trusted_networks: [10.0.0.0/8]").isEmpty)
        #expect(try sourceStory("10.1.2.3").count == 1)
    }

    @Test func noFindingDuringTheLearningPeriod() throws {
        let lines = [line("2026-03-02T10:00:00Z", "request", "r0", "alice"),
                     line("2026-03-08T10:00:00Z", "approve", "r0", "bob", ["source_ip": "203.0.113.1"]),
                     line("2026-03-09T10:00:00Z", "approve", "r0", "bob", ["source_ip": "203.0.113.2"])]
        let fs = rules(try run(lines), "unknown_source")
        #expect(fs.map(\.ts.rfc3339) == ["2026-03-09T10:00:00.000Z"])
    }

    @Test func newValuesAreKnownAfterTheirFirstFinding() throws {
        let lines = [line("2026-03-02T10:00:00Z", "request", "r0", "alice"),
                     line("2026-03-10T10:00:00Z", "approve", "r0", "bob", ["source_ip": "203.0.113.1"]),
                     line("2026-03-10T11:00:00Z", "reject", "r0", "bob", ["source_ip": "203.0.113.1"])]
        #expect(rules(try run(lines), "unknown_source").count == 1)
    }

    // MARK: repeat_offender

    @Test func thirdBehaviourFindingWithinSevenDaysFiresOnce() throws {
        var lines: [String] = []
        for (i, day) in ["02", "03", "04", "05"].enumerated() {
            lines.append(line("2026-03-\(day)T10:00:00Z", "request", "r\(i)", "mallory"))
            lines.append(line("2026-03-\(day)T10:05:00Z", "approve", "r\(i)", "mallory"))
        }
        let fs = rules(try run(lines), "repeat_offender")
        #expect(fs.map(\.ts.rfc3339) == ["2026-03-04T10:05:00.000Z"])
        #expect(fs.first?.actor == "mallory")
        #expect(fs.first?.evidence.findingIDs?.count == 3)
    }

    @Test func findingsSevenDaysApartDoNotAccumulate() throws {
        var lines: [String] = []
        for (i, ts) in ["2026-03-02T10:05:00Z", "2026-03-05T10:05:00Z", "2026-03-09T10:05:00Z"].enumerated() {
            lines.append(line(ts, "execute", "x\(i)", "eve"))
        }
        #expect(rules(try run(lines), "repeat_offender").isEmpty, "the first is exactly 7 days older than the third")
    }

    @Test func suppressedForSevenDaysAfterFiring() throws {
        var lines: [String] = []
        // One execute without approval a day for 12 days.
        for d in 2...13 { lines.append(line(String(format: "2026-03-%02dT10:00:00Z", d), "execute", "x\(d)", "eve")) }
        let fs = rules(try run(lines), "repeat_offender")
        #expect(fs.map(\.ts.rfc3339) == ["2026-03-04T10:00:00.000Z", "2026-03-11T10:00:00.000Z"])
    }
}
