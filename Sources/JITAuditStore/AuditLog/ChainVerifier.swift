/// The outcome of walking the audit log's hash chain.
package struct ChainReport: Sendable {
    /// Rows checked and found sound, in chain order.
    package var rows: Int
    /// First and last seq of the chain (after pruning, `first` is the anchor).
    package var firstSeq: Int64
    package var lastSeq: Int64
    /// Hash of the newest row: record it elsewhere to detect a rewrite of the whole chain.
    package var headHash: String
    /// The first problem found, or nil when the chain is intact.
    package var problem: Problem?

    package struct Problem: Sendable, CustomStringConvertible {
        package var seq: Int64
        /// Where the row came from, when the row exists.
        package var source: String?
        package var line: Int?
        package var reason: String
        package var description: String {
            var s = "row \(seq)"
            if let source, let line { s += " (\(source):\(line))" }
            return s + ": " + reason
        }
    }

    package var isIntact: Bool { problem == nil }
}

extension AuditStore {
    /// Walks the chain from its anchor to its head, recomputing every row's
    /// hash: an edited, deleted, inserted or reordered row is reported as the
    /// first row whose stored hash, position or head does not match. Then the
    /// lookup tables are checked against the rows (``keyIndexProblem()``).
    package func verifyChain() throws(StoreError) -> ChainReport {
        let c = try conn.prepare("SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM chain WHERE id = 1")
        guard try c.step(), let headHash = c.blob(1), let anchorHash = c.blob(3) else {
            throw StoreError(.corrupt, "the chain table has no head row: the database was altered by hand", path: path)
        }
        let headSeq = c.int64(0), anchorSeq = c.int64(2)
        var sources: [Int64: [UInt8]] = [:]
        let src = try conn.prepare("SELECT id, path FROM sources")
        while try src.step() { sources[src.int64(0)] = src.blob(1) ?? [] }

        var report = ChainReport(rows: 0, firstSeq: anchorSeq, lastSeq: anchorSeq - 1, headHash: hex(headHash))
        let rows = try conn.prepare("""
            SELECT seq, ts, event, request_id, actor, actor_key, requester, priority, source_ip, device_id,
                   peer_pid, peer_uid, peer_gid, source_id, line, offset, received_at, raw, hash
            FROM events ORDER BY seq
            """)
        var hasher = ChainHasher()
        var expected = anchorSeq
        var previous = anchorHash
        func problem(_ seq: Int64, _ reason: String, row: Bool = true) -> ChainReport.Problem {
            guard row else { return .init(seq: seq, reason: reason) }
            let path = sources[rows.int64(13)].map { String(decoding: $0, as: UTF8.self) }
            return .init(seq: seq, source: path ?? "?", line: rows.int(14), reason: reason)
        }
        while try rows.step() {
            let seq = rows.int64(0)
            if seq < expected {
                report.problem = problem(seq, "the row precedes the chain's anchor (seq \(anchorSeq)): inserted by hand")
                return report
            }
            if seq > headSeq {
                report.problem = problem(seq, "the row is past the chain head (seq \(headSeq)): inserted by hand")
                return report
            }
            if seq > expected {
                report.problem = problem(expected, "the row is missing (the log jumps from \(expected - 1) to \(seq)): deleted by hand", row: false)
                return report
            }
            hasher.begin(previous: previous)
            hasher.int(seq)
            for col: Int32 in 1...12 {
                switch rows.columnType(col) {
                case 1: hasher.int(rows.int64(col))  // SQLITE_INTEGER
                case 5: hasher.null()  // SQLITE_NULL
                default: hasher.text(rows.bytes(col)!)
                }
            }
            if let path = sources[rows.int64(13)] { hasher.text(path) } else { hasher.null() }
            for col: Int32 in 14...16 {
                if rows.columnType(col) == 1 { hasher.int(rows.int64(col)) } else { hasher.text(rows.bytes(col) ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
            }
            hasher.text(rows.bytes(17) ?? UnsafeRawBufferPointer(start: nil, count: 0))
            let digest = hasher.digest()
            guard let stored = rows.blob(18), stored == digest else {
                report.problem = problem(seq, "the row's content does not match its stored hash: edited by hand")
                return report
            }
            previous = digest
            report.rows += 1
            report.lastSeq = seq
            expected = seq + 1
        }
        if report.lastSeq < headSeq {
            report.problem = problem(report.lastSeq + 1, "rows \(report.lastSeq + 1)…\(headSeq) are missing: the newest rows were deleted by hand", row: false)
        } else if previous != headHash {
            report.problem = problem(headSeq, "the newest row's hash differs from the recorded chain head: the head or the row was altered", row: false)
        } else {
            report.problem = try keyIndexProblem()
        }
        return report
    }
}
