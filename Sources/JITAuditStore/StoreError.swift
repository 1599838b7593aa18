import CSQLite

/// A store failure: a stable code, what went wrong and how to fix it, and where.
///
/// The code is a struct over a private enum (NIO's `FileSystemError` style) so
/// adding a case breaks no caller that switches on it with a default.
package struct StoreError: Error, Sendable, CustomStringConvertible {
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String { case cannotOpen, notADatabase, corrupt, readOnly, full, locked, schemaTooNew, notJITAudit, io, constraint, invalidState, other }
        private let kind: Kind
        private init(_ k: Kind) { kind = k }
        package static let cannotOpen = Code(.cannotOpen)
        package static let notADatabase = Code(.notADatabase)
        package static let corrupt = Code(.corrupt)
        package static let readOnly = Code(.readOnly)
        package static let full = Code(.full)
        package static let locked = Code(.locked)
        package static let schemaTooNew = Code(.schemaTooNew)
        package static let notJITAudit = Code(.notJITAudit)
        package static let io = Code(.io)
        package static let constraint = Code(.constraint)
        package static let invalidState = Code(.invalidState)
        package static let other = Code(.other)
        package var description: String { kind.rawValue }
    }

    package var code: Code
    package var message: String
    /// The database file.
    package var path: String
    /// The SQLite extended result code, when SQLite reported the failure.
    package var sqliteCode: Int32?

    package init(_ code: Code, _ message: String, path: String, sqliteCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.sqliteCode = sqliteCode
    }

    package var description: String { "\(path): \(message)" }

    /// Maps an SQLite result code to a store error with advice.
    static func sqlite(_ rc: Int32, _ detail: String, path: String, doing: String) -> StoreError {
        let primary = rc & 0xFF
        let (code, advice): (Code, String)
        switch primary {
        case SQLITE_BUSY, SQLITE_LOCKED:
            (code, advice) = (.locked, "the database is locked by another writer; stop the other jitaudit process or raise --busy-timeout")
        case SQLITE_READONLY:
            (code, advice) = (.readOnly, "the database or its folder is read-only; check permissions and the mount")
        case SQLITE_FULL:
            (code, advice) = (.full, "the disk is full; free space and run again (nothing of the failed batch was kept)")
        case SQLITE_NOTADB:
            (code, advice) = (.notADatabase, "the file is not an SQLite database")
        case SQLITE_CORRUPT:
            (code, advice) = (.corrupt, "the database file is corrupt; restore it from a backup")
        case SQLITE_CANTOPEN:
            (code, advice) = (.cannotOpen, "cannot open the database file; check that its folder exists and is writable")
        case SQLITE_IOERR:
            (code, advice) = (.io, "an I/O error occurred")
        case SQLITE_CONSTRAINT:
            (code, advice) = (.constraint, "a schema constraint was violated")
        default:
            (code, advice) = (.other, "SQLite error \(rc)")
        }
        return StoreError(code, "\(doing) failed: \(advice) (\(detail))", path: path, sqliteCode: rc)
    }
}
