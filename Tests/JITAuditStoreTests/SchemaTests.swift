import Foundation
import Testing
@testable import JITAuditStore

@Suite("Schema and opening")
struct SchemaTests {
    @Test func migratesAnEmptyFile() throws {
        let db = try TempDB(); defer { db.cleanup() }
        do {
            let store = try db.open()
            #expect(try store.migrations().map(\.name) == ["initial", "report_summaries", "bulk_key_index", "snapshot_parts", "watermark_marks", "bulk_markers", "index_file"])
            #expect(try store.count("events") == 0)
        }
        #expect(try db.scalar("PRAGMA user_version") == Int64(AuditStore.schemaVersion))
        #expect(try db.scalar("PRAGMA application_id") == Int64(Schema.applicationID))
        #expect(try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name IN ('events','rejections','findings','checkpoints','engine_snapshot','chain','sources')") == 7)
        // Reopening applies nothing twice.
        let again = try db.open()
        #expect(try again.migrations().count == 7)
        #expect(try db.scalar("PRAGMA journal_mode") != nil)
    }

    @Test func usesWAL() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let store = try db.open()
        let s = try store.conn.prepare("PRAGMA journal_mode")
        #expect(try s.step())
        #expect(s.text(0) == "wal")
        #expect(try store.conn.scalarInt("PRAGMA synchronous") == 1)  // NORMAL
    }

    @Test func refusesANewerSchema() throws {
        let db = try TempDB(); defer { db.cleanup() }
        _ = try db.open()
        try db.sql("PRAGMA user_version = 99")
        for mode in [AuditStore.Mode.write, .read] {
            let e = storeError { _ = try db.open(mode) }
            #expect(e?.code == .schemaTooNew)
            #expect(e?.message.contains("schema version 99") == true)
        }
    }

    @Test func refusesAForeignDatabase() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let c = try Connection(path: db.path, readOnly: false, create: true)
        try c.exec("CREATE TABLE t (x)")
        #expect(storeError { _ = try db.open() }?.code == .notJITAudit)
    }

    @Test func refusesAFileThatIsNotADatabase() throws {
        let db = try TempDB(); defer { db.cleanup() }
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: db.path))
        let e = storeError { _ = try db.open() }
        #expect(e?.code == .notADatabase)
        #expect(storeError { _ = try db.open(.read) }?.code == .notADatabase)
    }

    @Test func readerNeedsAnExistingDatabase() throws {
        let db = try TempDB(); defer { db.cleanup() }
        #expect(storeError { _ = try db.open(.read) }?.code == .cannotOpen)
        #expect(!FileManager.default.fileExists(atPath: db.path))
    }

    @Test func badFolderIsAClearError() throws {
        let e = storeError { _ = try AuditStore(path: "/nonexistent-folder/x/audit.db", mode: .write) }
        #expect(e?.code == .cannotOpen)
    }

    @Test func oneWriterAtATime() throws {
        let db = try TempDB(); defer { db.cleanup() }
        let first = try db.open()
        let e = storeError { _ = try db.open(.write, busyMs: 100) }
        #expect(e?.code == .locked)
        // Readers are not blocked by the writer.
        try appendEvents(first, 3)
        let reader = try db.open(.read)
        #expect(try reader.count("events") == 3)
    }

    @Test func readOnlyFileIsRefusedForWriting() throws {
        guard getuid() != 0 else { return }  // root writes anyway; covered by the read-only mount case in docs
        let db = try TempDB(); defer { db.cleanup() }
        _ = try db.open()
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: db.path)
        #expect(storeError { _ = try db.open() }?.code == .readOnly)
    }
}
