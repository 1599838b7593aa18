import JITAuditCore
import Testing

/// The rule language has no regular expressions; its only pattern matcher is
/// `glob` (`*`, `?`), matched iteratively with one backtrack point, so no rule
/// can be driven into catastrophic backtracking (issue 5, part 5). These tests
/// go through the rule loader and the engine, with the patterns that blow up
/// backtracking matchers, against the longest text a line can carry.
@Suite struct GlobReDoSTests {
    /// `(a+)+b`-style blow-up for globs: every `*` can take any share of the
    /// a's, and the missing `b` forces a backtracking matcher through all
    /// C(n, k) splits: astronomically many for 20,000 a's and 20 stars.
    static let catastrophic = String(repeating: "*a", count: 20) + "*b"

    @Test func catastrophicGlobThroughLoaderAndEngineStaysFast() throws {
        let rules = """
        rules:
          - id: redos
            severity: low
            type: match
            when:
              event: request
              any:
                - justification: {glob: ["\(Self.catastrophic)", "\(String(repeating: "?", count: 40))*b*"], ignore_case: true}
                - resource: {glob: "\(Self.catastrophic)"}
                - action: {glob: "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c"}
          - id: redos_hit
            severity: low
            type: match
            when:
              event: request
              justification: {glob: "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*"}
        """
        let aaa = String(repeating: "a", count: 20_000)  // three of these make a line near the 64 KiB limit
        let events = (0..<10).map {
            line("2026-03-02T10:00:0\($0)Z", "request", "r\($0)", "alice", ["justification": aaa, "resource": aaa, "action": aaa])
        }
        #expect(events[0].utf8.count < 64 * 1024)
        let clock = ContinuousClock()
        var found: [Finding] = []
        let took = try clock.measure { found = try run(events, rules: rules) }
        // 10 events × 4 failing patterns × 20,000 characters: O(n·m) work, well
        // under a second even in a debug build; a backtracking matcher would not
        // finish this side of the heat death of the universe.
        #expect(took < .seconds(10), "took \(took)")
        #expect(found.map(\.rule) == Array(repeating: "redos_hit", count: 10))
    }

    @Test func matchingTimeGrowsLinearlyWithTheText() {
        let g = GlobPattern(Self.catastrophic)
        let clock = ContinuousClock()
        func time(_ n: Int) -> Duration {
            let text = String(repeating: "a", count: n)
            return (0..<3).map { _ in clock.measure { _ = g.matches(text) } }.min()!
        }
        let small = time(5_000), large = time(40_000)
        // 8× the text: linear is 8×, quadratic 64×. Allow noise on a busy machine.
        #expect(large < small * 24 + .milliseconds(50), "5k: \(small), 40k: \(large)")
    }

    /// The iterative matcher agrees with a textbook dynamic-programming matcher.
    @Test func globAgreesWithAReferenceMatcher() {
        var rng = SplitMix64(seed: 0x5EED_0006)
        let alphabet: [Character] = ["a", "b", "é", "*", "?"]
        for n in 0..<20_000 {
            let p = String((0..<rng.below(8)).map { _ in alphabet[rng.below(5)] })
            let t = String((0..<rng.below(10)).map { _ in alphabet[rng.below(3)] })
            let want = Self.reference(Array(p.unicodeScalars), Array(t.unicodeScalars))
            if GlobPattern(p).matches(t) != want { Issue.record("case \(n): \(p.debugDescription) ~ \(t.debugDescription) should be \(want)") }
        }
    }

    static func reference(_ p: [Unicode.Scalar], _ t: [Unicode.Scalar]) -> Bool {
        var m = Array(repeating: Array(repeating: false, count: t.count + 1), count: p.count + 1)
        m[0][0] = true
        for i in 1...max(1, p.count) where i <= p.count {
            for j in 0...t.count {
                if p[i - 1] == "*" { m[i][j] = m[i - 1][j] || (j > 0 && m[i][j - 1]) }
                else if j > 0 { m[i][j] = m[i - 1][j - 1] && (p[i - 1] == "?" || p[i - 1] == t[j - 1]) }
            }
        }
        return m[p.count][t.count]
    }
}
