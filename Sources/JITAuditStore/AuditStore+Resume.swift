import JITAuditCore

extension AuditStore {
    /// The last engine snapshot, the seq of the newest event it covers, and
    /// how many of its open requests' `request` events were not found in the
    /// log (a `bin-v2` state names them; see ``SnapshotCodec``). Those
    /// requests are kept without their request event: only a prune shorter
    /// than the engine's `request_retention`, or a hand edit, removes them.
    package func snapshot() throws(StoreError) -> (state: EngineState, throughSeq: Int64, unresolvedRequests: Int)? {
        let s = try conn.prepare("SELECT format, through_seq, state, parts, generation FROM engine_snapshot WHERE id = 1")
        guard try s.step() else { return nil }
        let format = s.text(0) ?? ""
        let through = s.int64(1)
        let parts = s.int(3)
        // The first `request` event with that id and time, as the engine kept the first to arrive.
        let find = try conn.prepare("SELECT raw FROM events WHERE ts = ?1 AND request_id = ?2 AND event = 'request' ORDER BY seq LIMIT 1")
        let decoder = LineDecoder(maxIdentifierBytes: .max)
        let requestEvent = { (id: String, ts: Timestamp) -> Event? in
            find.bind(1, ts.micros); find.bind(2, id)
            defer { find.reset() }
            guard (try? find.step()) == true, let raw = find.bytes(0),
                  case .success(let e) = decoder.decode(raw.bindMemory(to: UInt8.self)) else { return nil }
            return e
        }
        var unresolved = 0
        guard parts > 0 else {
            let state = try SnapshotCodec.decode(s.bytes(2) ?? UnsafeRawBufferPointer(start: nil, count: 0), format: format, path: path,
                                                 requestEvent: requestEvent, unresolved: &unresolved)
            return (state, through, unresolved)
        }
        // Saved in parts (see SnapshotPartsSchema): concatenated in order, all present.
        let p = try conn.prepare("SELECT part, data FROM engine_snapshot_parts WHERE generation = ?1 ORDER BY part")
        p.bind(1, s.int64(4))
        var bytes: [UInt8] = []
        var next = 0
        while try p.step() {
            guard p.int(0) == next else { break }
            bytes += p.blob(1) ?? []
            next += 1
        }
        guard next == parts else {
            throw StoreError(.corrupt, "the engine snapshot lacks part \(next) of \(parts); the database was altered by hand", path: path)
        }
        var decoded: Result<EngineState, StoreError> = .failure(StoreError(.corrupt, "empty snapshot", path: path))
        bytes.withUnsafeBytes { b in
            decoded = Result { () throws(StoreError) in
                try SnapshotCodec.decode(b, format: format, path: path, requestEvent: requestEvent, unresolved: &unresolved)
            }
        }
        return (try decoded.get(), through, unresolved)
    }

    /// The wall clock's watermark advances recorded after event `seq` or
    /// later, oldest first: (the newest event's seq then, the watermark).
    package func watermarkMarks(from seq: Int64) throws(StoreError) -> [(seq: Int64, watermark: Timestamp)] {
        let s = try conn.prepare("SELECT seq, watermark FROM watermark_marks WHERE seq >= ?1 ORDER BY seq")
        s.bind(1, seq)
        var out: [(Int64, Timestamp)] = []
        while try s.step() { out.append((s.int64(0), Timestamp(micros: s.int64(1)))) }
        return out
    }

    /// Calls `body` with the raw line of every event after `seq`, in arrival
    /// order: what the engine must be fed on top of the snapshot; and `mark`
    /// with each watermark advance recorded after `seq` (see
    /// ``WatermarkSchema``) right after the event it followed.
    package func forEachEvent(after seq: Int64, mark: (Timestamp) throws -> Void = { _ in },
                              _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var marks = try watermarkMarks(from: seq)[...]
        func apply(through n: Int64) throws {
            while let m = marks.first, m.seq <= n { try mark(m.watermark); marks.removeFirst() }
        }
        let s = try conn.prepare("SELECT seq, raw FROM events WHERE seq > ?1 ORDER BY seq")
        s.bind(1, seq)
        try apply(through: seq)
        while try s.step() {
            try body(s.bytes(1) ?? UnsafeRawBufferPointer(start: nil, count: 0))
            try apply(through: s.int64(0))
        }
        try apply(through: .max)
    }

    /// Every file source's checkpoint, by path.
    package func checkpoints() throws(StoreError) -> [String: SourceCheckpoint] {
        let s = try conn.prepare("""
            SELECT s.path, c.device, c.inode, c.fingerprint, c.offset, c.line FROM checkpoints c JOIN sources s ON s.id = c.source_id
            """)
        var out: [String: SourceCheckpoint] = [:]
        while try s.step() {
            let p = s.text(0) ?? ""
            out[p] = SourceCheckpoint(path: p, device: UInt64(bitPattern: s.int64(1)), inode: UInt64(bitPattern: s.int64(2)),
                                      fingerprint: UInt64(bitPattern: s.int64(3)), offset: s.int64(4), line: s.int(5))
        }
        return out
    }
}
