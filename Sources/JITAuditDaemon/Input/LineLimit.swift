/// The line limit as the framers apply it. SPEC §1 lets a line end in
/// `\r\n`, and the `\r` is not part of the line: a line at the limit may
/// carry one more byte, a trailing `\r`.
enum LineLimit {
    /// Bytes a line may hold before its newline while it is being read
    /// (the limit, and room for a `\r`).
    @inline(__always) static func framing(_ limit: Int) -> Int { limit + 1 }

    /// Whether a complete line of `length` bytes ending in `last` is over
    /// `limit`, a trailing `\r` not counted.
    @inline(__always) static func exceeded(_ length: Int, last: UInt8?, limit: Int) -> Bool {
        length > limit && !(length == limit + 1 && last == 13)
    }
}
