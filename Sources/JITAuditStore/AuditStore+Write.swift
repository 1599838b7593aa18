import CSQLite
import JITAuditCore

/// Credentials of a socket peer, stored with each of its lines.
package struct PeerCredentials: Sendable, Hashable {
    package var pid: Int32
    package var uid: UInt32
    package var gid: UInt32
    package init(pid: Int32, uid: UInt32, gid: UInt32) { self.pid = pid; self.uid = uid; self.gid = gid }
}

/// Where a file source stands: resumed only when device, inode and the
/// fingerprint of its first line still match.
package struct SourceCheckpoint: Sendable, Hashable {
    package var path: String
    package var device: UInt64
    package var inode: UInt64
    package var fingerprint: UInt64
    /// Byte offset of the next line.
    package var offset: Int64
    /// Number of the next line.
    package var line: Int
    package init(path: String, device: UInt64, inode: UInt64, fingerprint: UInt64, offset: Int64, line: Int) {
        self.path = path; self.device = device; self.inode = inode; self.fingerprint = fingerprint; self.offset = offset; self.line = line
    }
}

/// Rejected lines keep at most this many of their bytes.
package let rejectedBytesCap = 4096

/// The writer's prepared statements and the chain head, committed and pending.
struct WriterState {
    let insertEvent: Statement
    let insertRejection: Statement
    let insertFinding: Statement
    let upsertCheckpoint: Statement
    let upsertSnapshot: Statement
    let clearSnapshotParts: Statement
    let recordMark: Statement
    let dropOldMarks: Statement
    /// Generation of the snapshot being saved in parts (see ``SnapshotPartsSchema``).
    var stagingGeneration: Int64 = 0
    let updateHead: Statement
    let findSource: Statement
    let insertSource: Statement
    /// What the open transaction's events add to the report summaries,
    /// handed to the index file's writer when it commits.
    var summaryBatch = SummaryBatch()
    var hasher = ChainHasher()
    var sources: [String: (id: Int64, path: [UInt8])] = [:]
    var committedHead: (seq: Int64, hash: [UInt8])
    var head: (seq: Int64, hash: [UInt8])
    var inTransaction = false
    var pendingEvents = 0

    init(conn: Connection) throws(StoreError) {
        insertEvent = try conn.prepare("""
            INSERT INTO events (seq, ts, event, request_id, actor, actor_key, requester, priority, source_ip, device_id,
                                peer_pid, peer_uid, peer_gid, source_id, line, offset, received_at, raw, hash)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
            """)
        insertRejection = try conn.prepare("""
            INSERT INTO rejections (kind, message, source_id, line, offset, raw, raw_length, peer_pid, peer_uid, peer_gid, received_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """)
        insertFinding = try conn.prepare("""
            INSERT OR IGNORE INTO findings (id, rule, severity, ts, actor, actor_key, request_id, summary, evidence, recorded_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """)
        upsertCheckpoint = try conn.prepare("""
            INSERT INTO checkpoints (source_id, device, inode, fingerprint, offset, line, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (source_id) DO UPDATE SET device = excluded.device, inode = excluded.inode, fingerprint = excluded.fingerprint,
                offset = excluded.offset, line = excluded.line, updated_at = excluded.updated_at
            """)
        upsertSnapshot = try conn.prepare("""
            INSERT INTO engine_snapshot (id, format, through_seq, state, taken_at, parts, generation) VALUES (1, ?1, ?2, ?3, ?4, 0, 0)
            ON CONFLICT (id) DO UPDATE SET format = excluded.format, through_seq = excluded.through_seq,
                state = excluded.state, taken_at = excluded.taken_at, parts = 0, generation = 0
            """)
        clearSnapshotParts = try conn.prepare("DELETE FROM engine_snapshot_parts")
        recordMark = try conn.prepare("""
            INSERT INTO watermark_marks (seq, watermark) VALUES (?1, ?2)
            ON CONFLICT (seq) DO UPDATE SET watermark = max(watermark, excluded.watermark)
            """)
        dropOldMarks = try conn.prepare("DELETE FROM watermark_marks WHERE seq < ?1")
        updateHead = try conn.prepare("UPDATE chain SET head_seq = ?1, head_hash = ?2 WHERE id = 1")
        findSource = try conn.prepare("SELECT id FROM sources WHERE path = ?1")
        insertSource = try conn.prepare("INSERT INTO sources (path) VALUES (?1)")
        let h = try conn.prepare("SELECT head_seq, head_hash FROM chain WHERE id = 1")
        guard try h.step(), let hash = h.blob(1), hash.count == 32 else {
            throw StoreError(.corrupt, "the chain table has no valid head row; the database was altered by hand", path: conn.path)
        }
        committedHead = (h.int64(0), hash)
        head = committedHead
    }
}

extension AuditStore {
    private func withWriter<R>(_ body: (inout WriterState) throws(StoreError) -> R) throws(StoreError) -> R {
        guard writer != nil else { throw StoreError(.invalidState, "the database was opened for reading", path: path) }
        do {
            if !writer!.inTransaction {
                try conn.exec("BEGIN IMMEDIATE", "starting a batch")
                writer!.inTransaction = true
            }
            return try body(&writer!)
        } catch {
            rollback()
            throw error
        }
    }

    /// The id of a source path, inserted on first use (inside the open transaction).
    private func sourceID(_ path: String, _ w: inout WriterState) throws(StoreError) -> (id: Int64, path: [UInt8]) {
        if let s = w.sources[path] { return s }
        w.findSource.bind(1, path)
        let id: Int64
        if try w.findSource.step() {
            id = w.findSource.int64(0)
            w.findSource.reset()
        } else {
            w.findSource.reset()
            w.insertSource.bind(1, path)
            try w.insertSource.run()
            id = sqlite3_last_insert_rowid(conn.handle)
        }
        let entry = (id, Array(path.utf8))
        w.sources[path] = entry
        return entry
    }

    /// Appends one accepted event to the audit log, chained to the row before it.
    /// `summarize`: false when the caller hands over the batch's summary part
    /// itself (``addSummary(_:)``).
    package func append(_ e: Event, source: String, line: Int, offset: Int64, peer: PeerCredentials? = nil,
                        receivedAt: Timestamp, summarize: Bool = true) throws(StoreError) {
        try withWriter { (w) throws(StoreError) in
            let src = try sourceID(source, &w)
            let seq = w.head.seq + 1
            let kind = e.kind.description
            let priority = (e.priority ?? .normal).description
            let ip = e.sourceIP?.description
            let requester = e.namedRequester
            let pid = peer.map { Int64($0.pid) }, uid = peer.map { Int64($0.uid) }, gid = peer.map { Int64($0.gid) }

            w.hasher.begin(previous: w.head.hash)
            w.hasher.int(seq); w.hasher.int(e.ts.micros)
            let rKind = w.hasher.text(kind), rRequest = w.hasher.text(e.requestID), rActor = w.hasher.text(e.actor)
            let rKey = w.hasher.text(e.actorKey), rRequester = w.hasher.text(requester), rPriority = w.hasher.text(priority)
            let rIP = w.hasher.text(ip), rDevice = w.hasher.text(e.deviceID)
            w.hasher.int(pid); w.hasher.int(uid); w.hasher.int(gid)
            w.hasher.text(src.path); w.hasher.int(Int64(line)); w.hasher.int(offset); w.hasher.int(receivedAt.micros)
            let rRaw = w.hasher.text(e.raw)
            let hash = w.hasher.digest()

            let s = w.insertEvent
            s.bind(1, seq); s.bind(2, e.ts.micros)
            s.bind(11, pid); s.bind(12, uid); s.bind(13, gid); s.bind(14, src.id); s.bind(15, line); s.bind(16, offset)
            s.bind(17, receivedAt.micros)
            s.bindBlob(19, hash)
            // Text is bound without a copy from the hasher's buffer, which stays put until the statement is reset.
            let failure: StoreError? = w.hasher.buffer.withUnsafeBytes { b in
                let base = b.baseAddress!
                s.bindStatic(3, base, rKind); s.bindStatic(4, base, rRequest); s.bindStatic(5, base, rActor)
                s.bindStatic(6, base, rKey); s.bindStatic(7, base, rRequester); s.bindStatic(8, base, rPriority)
                s.bindStatic(9, base, rIP); s.bindStatic(10, base, rDevice); s.bindStatic(18, base, rRaw)
                do throws(StoreError) { try s.run() } catch { return error }
                return nil
            }
            if let failure { throw failure }
            w.head = (seq, hash)
            w.pendingEvents += 1
            if summarize { w.summaryBatch.add(e) }
        }
    }

    /// Adds the summary part of events appended with `summarize: false`, in the open transaction.
    package func addSummary(_ part: SummaryBatch) throws(StoreError) {
        try withWriter { (w) throws(StoreError) in w.summaryBatch.merge(part) }
    }

    /// Records a rejected line with its reason; its bytes are kept up to ``rejectedBytesCap``.
    /// `length` is the line's full length when `raw` is shorter (an over-long line).
    package func reject(_ r: Rejection, raw: UnsafeRawBufferPointer, length: Int? = nil, source: String, line: Int, offset: Int64,
                        peer: PeerCredentials? = nil, receivedAt: Timestamp) throws(StoreError) {
        try insertRejection(r, length: max(length ?? raw.count, raw.count), source: source, line: line, offset: offset, peer: peer,
                            receivedAt: receivedAt) { $0.bindBlob(6, UnsafeRawBufferPointer(rebasing: raw.prefix(rejectedBytesCap))) }
    }

    /// Records a rejected line given as an array (see the buffer variant).
    package func reject(_ r: Rejection, raw: [UInt8], length: Int? = nil, source: String, line: Int, offset: Int64,
                        peer: PeerCredentials? = nil, receivedAt: Timestamp) throws(StoreError) {
        try insertRejection(r, length: max(length ?? raw.count, raw.count), source: source, line: line, offset: offset, peer: peer,
                            receivedAt: receivedAt) { $0.bindBlob(6, Array(raw.prefix(rejectedBytesCap))) }
    }

    private func insertRejection(_ r: Rejection, length: Int, source: String, line: Int, offset: Int64, peer: PeerCredentials?,
                                 receivedAt: Timestamp, bindRaw: (Statement) -> Void) throws(StoreError) {
        try withWriter { (w) throws(StoreError) in
            let src = try sourceID(source, &w)
            let s = w.insertRejection
            s.bind(1, r.kind.rawValue); s.bind(2, r.message); s.bind(3, src.id); s.bind(4, line); s.bind(5, offset)
            bindRaw(s)
            s.bind(7, length)
            s.bind(8, peer.map { Int64($0.pid) }); s.bind(9, peer.map { Int64($0.uid) }); s.bind(10, peer.map { Int64($0.gid) })
            s.bind(11, receivedAt.micros)
            try s.run()
        }
    }

    /// Records a finding; returns false when a finding with its id is already stored.
    @discardableResult
    package func record(_ f: Finding, recordedAt: Timestamp) throws(StoreError) -> Bool {
        try withWriter { (w) throws(StoreError) in
            let s = w.insertFinding
            s.bind(1, f.id); s.bind(2, f.rule); s.bind(3, f.severity.rawValue); s.bind(4, f.ts.micros); s.bind(5, f.actor)
            s.bind(6, Identity.key(f.actor)); s.bind(7, f.requestID); s.bind(8, f.summary)
            s.bind(9, FindingFormat.evidenceJSON(f.evidence)); s.bind(10, recordedAt.micros)
            try s.run()
            return conn.changes == 1
        }
    }

    /// Stores where a file source stands, in the open transaction.
    package func save(_ c: SourceCheckpoint, at now: Timestamp) throws(StoreError) {
        try withWriter { (w) throws(StoreError) in
            let src = try sourceID(c.path, &w)
            let s = w.upsertCheckpoint
            s.bind(1, src.id); s.bind(2, Int64(bitPattern: c.device)); s.bind(3, Int64(bitPattern: c.inode))
            s.bind(4, Int64(bitPattern: c.fingerprint)); s.bind(5, c.offset); s.bind(6, c.line); s.bind(7, now.micros)
            try s.run()
        }
    }

    /// Records, in the open transaction, that the wall clock moved the
    /// engine's watermark to `watermark` after the newest appended event (see
    /// ``WatermarkSchema``).
    package func recordWatermark(_ watermark: Timestamp) throws(StoreError) {
        try withWriter { (w) throws(StoreError) in
            let s = w.recordMark
            s.bind(1, w.head.seq); s.bind(2, watermark.micros)
            try s.run()
        }
    }

    /// Events appended since the last commit.
    package var pendingEvents: Int { writer?.pendingEvents ?? 0 }

    /// Makes everything written since the last commit durable in one
    /// transaction, with an engine snapshot (covering every event appended so
    /// far) when one is given, then hands the new events' report summaries
    /// to the index file's writer (see ``BulkWriter``). On failure nothing
    /// of the batch is kept.
    package func commit(snapshot: EngineState? = nil, at now: Timestamp) throws(StoreError) {
        if snapshot == nil && !(writer?.inTransaction ?? false) { return }
        try withWriter { (w) throws(StoreError) in
            // A failed index merge fails this batch, before anything is kept.
            try bulk?.check()
            if let snapshot {
                let blob = try SnapshotCodec.encode(snapshot, path: path)
                let s = w.upsertSnapshot
                s.bind(1, SnapshotCodec.format); s.bind(2, w.head.seq); s.bindBlob(3, blob); s.bind(4, now.micros)
                try s.run()
                try w.clearSnapshotParts.run()
                w.dropOldMarks.bind(1, w.head.seq)
                try w.dropOldMarks.run()
            }
            if w.head.seq != w.committedHead.seq {
                w.updateHead.bind(1, w.head.seq); w.updateHead.bindBlob(2, w.head.hash)
                try w.updateHead.run()
            }
            try conn.exec("COMMIT", "committing a batch")
            w.inTransaction = false
            if w.head.seq != w.committedHead.seq {
                bulk?.committed(head: w.head.seq, summary: w.summaryBatch)
            }
            w.summaryBatch = SummaryBatch()
            w.committedHead = w.head
            w.pendingEvents = 0
        }
    }

    /// Brings the lookup tables and the report summaries up to the newest
    /// committed event and waits for it, so neither readers nor reports have
    /// newer events to add themselves (see ``KeyIndexSchema``). A bulk load
    /// calls it at its end; prune before deleting.
    package func flushBulkTables() throws(StoreError) {
        try commit(at: Timestamp(micros: 0))
        guard let w = writer else { return }
        try bulk?.flush(head: w.committedHead.seq)
    }

    /// Waits for the index merges already under way (tests, and before reading the index file).
    package func settleBulkTables() { bulk?.settle() }

    /// Drops everything written since the last commit.
    package func rollback() {
        guard writer != nil else { return }
        if conn.inTransaction { try? conn.exec("ROLLBACK") }
        writer!.inTransaction = false
        writer!.head = writer!.committedHead
        writer!.pendingEvents = 0
        writer!.summaryBatch.removeAll()
        writer!.sources = [:]
    }

    /// The newest row of the audit log and its hash, as committed.
    package var chainHead: (seq: Int64, hash: String)? {
        writer.map { ($0.committedHead.seq, hex($0.committedHead.hash)) }
    }
}
