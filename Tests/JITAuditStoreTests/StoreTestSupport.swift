import Foundation
import Testing
@testable import JITAuditStore

/// A fresh database in its own temporary folder, removed by `cleanup()`.
struct TempDB {
    let dir: URL
    var path: String { dir.appendingPathComponent("audit.db").path }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("jitaudit-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    /// `keyMerge`: small by default, so most tests' logs are partly in the
    /// key tables and partly after them (both halves of every lookup run).
    func open(_ mode: AuditStore.Mode = .write, busyMs: Int32 = 5_000, keyMerge: Int = 97) throws -> AuditStore {
        var o = AuditStore.Options()
        o.busyTimeoutMilliseconds = busyMs
        o.keyMergeEvents = keyMerge
        return try AuditStore(path: path, mode: mode, options: o)
    }

    /// Runs SQL on a separate connection, as someone with `sqlite3` would.
    /// The index file's tables resolve too (attached as `idx`, see ``IndexFile``).
    func sql(_ text: String) throws {
        let c = try Connection(path: path, readOnly: false, create: false)
        sqlite3BusyTimeout(c)
        if FileManager.default.fileExists(atPath: IndexFile.path(for: path)) {
            try IndexFile.attach(c, path: IndexFile.path(for: path), as: "idx")
        }
        try c.exec(text)
    }

    /// The first value of a query, as a reader sees the store (the index
    /// file attached with its lookup views).
    func scalar(_ text: String) throws -> Int64? {
        let c = try Connection(path: path, readOnly: true, create: false)
        _ = try IndexFile.attachForReading(c, path: IndexFile.path(for: path))
        return try c.scalarInt(text)
    }

    func cleanup() { try? FileManager.default.removeItem(at: dir) }
}

func sqlite3BusyTimeout(_ c: Connection) { _ = try? c.exec("PRAGMA busy_timeout = 2000") }

/// One JSON event line.
func eventLine(_ ts: String, _ kind: String, _ rid: String, _ actor: String, _ extra: KeyValuePairs<String, String> = [:]) -> String {
    var s = "{\"ts\":\"\(ts)\",\"event\":\"\(kind)\",\"request_id\":\"\(rid)\",\"actor\":\"\(actor)\""
    for (k, v) in extra { s += ",\"\(k)\":" + JSONText.quote(v) }
    return s + "}"
}

func event(_ line: String) throws -> Event {
    switch LineDecoder().decode(line) {
    case .success(let e): return e
    case .failure(let r): throw r
    }
}

let t0 = Timestamp(micros: 1_772_000_000_000_000)

/// Appends `n` simple events (one request each, one second apart from `start`) and commits.
@discardableResult
func appendEvents(_ store: AuditStore, _ n: Int, from start: Int = 0, source: String = "/var/log/jit.jsonl",
                  commit: Bool = true) throws -> [Event] {
    var out: [Event] = []
    for i in start..<(start + n) {
        let ts = Timestamp(micros: t0.micros + Int64(i) * 1_000_000)
        let e = try event(eventLine(ts.rfc3339, "request", "req-\(i)", "user\(i % 7)", ["action": "deploy", "resource": "svc-\(i)"]))
        try store.append(e, source: source, line: i + 1, offset: Int64(i * 100), receivedAt: ts)
        out.append(e)
    }
    if commit { try store.commit(at: t0) }
    return out
}

/// Runs `body` and returns the store error it throws.
func storeError(_ body: () throws -> Void) -> StoreError? {
    do { try body() } catch let e as StoreError { return e } catch { Issue.record("unexpected error \(error)") }
    return nil
}
