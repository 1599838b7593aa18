import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite connection over the C API. Not thread-safe: each owner uses it
/// from one thread at a time (the store has one writer).
final class Connection {
    let handle: OpaquePointer
    let path: String
    /// A descriptor holding the writer's `flock`, closed only after SQLite
    /// closed the file: closing any descriptor of a file drops every POSIX
    /// lock the process holds on it, SQLite's included.
    var writerLockFD: Int32 = -1

    /// Opens `path`. `create` makes the file if it is missing; `readOnly` never writes.
    init(path: String, readOnly: Bool, create: Bool) throws(StoreError) {
        self.path = path
        _ = Connection.configured
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let detail = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw StoreError.sqlite(rc, detail, path: path, doing: "opening the database")
        }
        handle = db
    }

    /// Process-wide SQLite settings, applied once before the first connection.
    private static let configured: Bool = { jitaudit_sqlite3_disable_memstatus() == SQLITE_OK }()

    deinit {
        sqlite3_close_v2(handle)
        if writerLockFD >= 0 { close(writerLockFD) }
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(_ rc: Int32, _ doing: String) -> StoreError {
        StoreError.sqlite(rc, lastMessage, path: path, doing: doing)
    }

    /// Runs one or more statements that return no rows of interest.
    func exec(_ sql: String, _ doing: String = "running SQL") throws(StoreError) {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let detail = err.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(err)
            throw StoreError.sqlite(rc, detail, path: path, doing: doing)
        }
    }

    func prepare(_ sql: String) throws(StoreError) -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "preparing a statement") }
        return Statement(stmt, connection: self)
    }

    /// The first column of the first row, as an integer (nil when no row or NULL).
    func scalarInt(_ sql: String) throws(StoreError) -> Int64? {
        let s = try prepare(sql)
        guard try s.step() else { return nil }
        return s.isNull(0) ? nil : s.int64(0)
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
    var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }
    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }
}

/// `SQLITE_TRANSIENT`: SQLite copies bound bytes before `bind` returns.
let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
/// A valid address for empty text (a NULL pointer would bind SQL NULL).
nonisolated(unsafe) let emptyText = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

/// A prepared statement, reused: bind, step, reset.
final class Statement {
    let stmt: OpaquePointer
    /// Strong: the connection is closed only after its last statement is finalized.
    let connection: Connection

    init(_ stmt: OpaquePointer, connection: Connection) {
        self.stmt = stmt
        self.connection = connection
    }

    deinit { sqlite3_finalize(stmt) }

    // MARK: Binding (1-based indexes)

    func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(stmt, i, v) }
    func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(stmt, i, Int64(v)) }
    func bind(_ i: Int32, _ v: Int64?) { if let v { sqlite3_bind_int64(stmt, i, v) } else { sqlite3_bind_null(stmt, i) } }
    func bindNull(_ i: Int32) { sqlite3_bind_null(stmt, i) }

    func bind(_ i: Int32, _ s: String?) {
        guard let s else { sqlite3_bind_null(stmt, i); return }
        let done = s.utf8.withContiguousStorageIfAvailable { p in bindText(i, p) } != nil
        if !done { Array(s.utf8).withUnsafeBufferPointer { bindText(i, $0) } }
    }

    /// Binds UTF-8 bytes as text; SQLite copies them.
    func bindText(_ i: Int32, _ p: UnsafeBufferPointer<UInt8>) {
        let base = UnsafeRawPointer(p.baseAddress ?? UnsafePointer(emptyText))
        sqlite3_bind_text(stmt, i, base.assumingMemoryBound(to: CChar.self), Int32(p.count), transient)
    }

    /// Binds text that stays valid and unchanged until the statement is stepped and reset (no copy).
    func bindStatic(_ i: Int32, _ base: UnsafeRawPointer, _ range: Range<Int>?) {
        guard let range else { sqlite3_bind_null(stmt, i); return }
        sqlite3_bind_text(stmt, i, (base + range.lowerBound).assumingMemoryBound(to: CChar.self), Int32(range.count), nil)
    }

    func bindBlob(_ i: Int32, _ p: UnsafeRawBufferPointer) {
        // A zero-length blob must not be bound as NULL.
        sqlite3_bind_blob(stmt, i, p.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(p.count), transient)
    }

    func bindBlob(_ i: Int32, _ bytes: [UInt8]) { bytes.withUnsafeBytes { bindBlob(i, $0) } }

    // MARK: Stepping

    /// Steps once: true when a row is available, false when done.
    @discardableResult
    func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let e = connection.error(rc, "writing or reading the database")
        sqlite3_reset(stmt)
        throw e
    }

    /// Steps a statement that returns no rows, then resets it and clears its bindings.
    func run() throws(StoreError) {
        defer { reset() }
        try step()
    }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    // MARK: Columns (0-based)

    func isNull(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_NULL }
    func int64(_ c: Int32) -> Int64 { sqlite3_column_int64(stmt, c) }
    func int(_ c: Int32) -> Int { Int(sqlite3_column_int64(stmt, c)) }
    func optionalInt64(_ c: Int32) -> Int64? { isNull(c) ? nil : int64(c) }

    func text(_ c: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, c) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, c))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// The column's bytes (text or blob), valid until the next step or reset.
    func bytes(_ c: Int32) -> UnsafeRawBufferPointer? {
        if isNull(c) { return nil }
        let p = sqlite3_column_blob(stmt, c)
        let n = Int(sqlite3_column_bytes(stmt, c))
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    func blob(_ c: Int32) -> [UInt8]? { bytes(c).map { Array($0) } }

    func columnType(_ c: Int32) -> Int32 { sqlite3_column_type(stmt, c) }
    var columnCount: Int { Int(sqlite3_column_count(stmt)) }
}
