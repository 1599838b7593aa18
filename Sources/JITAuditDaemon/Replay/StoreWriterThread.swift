import Dispatch
import Foundation
import JITAuditCore
import JITAuditStore
import Synchronization

/// One transaction's worth of work, handed from the engine thread to the writer.
struct WriteBatch: Sendable {
    struct Accepted: Sendable {
        var event: Event
        var source: String
        var line: Int
        var offset: Int64
    }
    struct Rejected: Sendable {
        var rejection: Rejection
        var raw: [UInt8]
        var length: Int
        var source: String
        var line: Int
        var offset: Int64
    }
    var events: [Accepted] = []
    var rejections: [Rejected] = []
    var findings: [Finding] = []
    /// What `events` add to the report summaries, built on the engine thread.
    var summary = SummaryBatch()
    /// Where file sources stand after this batch (the latest per path wins).
    var checkpoints: [SourceCheckpoint] = []
    /// The engine's state after this batch's events, when a snapshot is due.
    var snapshot: EngineState?
    var receivedAt: Timestamp
    init(receivedAt: Timestamp) { self.receivedAt = receivedAt }
}

/// Writes batches to the store on a thread of its own, so the engine (decode,
/// detect) and SQLite (hash, insert, commit, snapshot encoding) run on two
/// cores at once. Batches are committed in the order submitted, each in one
/// transaction; `submit` blocks while `depth` batches wait (back-pressure, so
/// memory stays bounded). Findings new to the store come back through
/// ``takeNewFindings()`` once their batch is committed.
final class StoreWriterThread: Sendable {
    /// The store is used only by the writer thread from `start()` until
    /// `finish()` returns: handed over, never shared, hence unchecked.
    private final class StoreBox: @unchecked Sendable {
        let store: AuditStore
        init(_ s: AuditStore) { store = s }
    }

    private enum Message: Sendable { case batch(WriteBatch), stop }

    struct Results: Sendable {
        var newFindings: [Finding] = []
        var failure: StoreError?
    }

    private let box: StoreBox
    private let queue = Mutex<[Message]>([])
    private let items = DispatchSemaphore(value: 0)
    private let slots: DispatchSemaphore
    private let done = DispatchSemaphore(value: 0)
    private let results = Mutex(Results())
    /// Written batches, handed back so the engine thread frees them: its
    /// allocator arena made their events, and a free from another thread
    /// takes glibc's slow path (measured: ~1 µs per event on the writer,
    /// which sets the pace of `replay --db`).
    private let spent = Mutex<[WriteBatch]>([])

    init(store: AuditStore, depth: Int = 1) {
        box = StoreBox(store)
        slots = DispatchSemaphore(value: max(1, depth))
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "jitaudit-store-writer"
        t.start()
    }

    /// Queues a batch; throws the writer's failure once one happened.
    func submit(_ b: WriteBatch) throws(StoreError) {
        if let f = results.withLock({ $0.failure }) { throw f }
        dropSpent()
        slots.wait()
        queue.withLock { $0.append(.batch(b)) }
        items.signal()
    }

    /// Frees the batches the writer is done with, on the calling thread.
    func dropSpent() {
        var old = spent.withLock { s in
            defer { s = [] }
            return s
        }
        old.removeAll()
    }

    /// Findings committed since the last call, in the order stored.
    func takeNewFindings() -> [Finding] {
        results.withLock { r in
            defer { r.newFindings.removeAll() }
            return r.newFindings
        }
    }

    /// Waits until every submitted batch is written; throws the first failure.
    func finish() throws(StoreError) {
        slots.wait()
        queue.withLock { $0.append(.stop) }
        items.signal()
        done.wait()
        dropSpent()
        if let f = results.withLock({ $0.failure }) { throw f }
    }

    private func loop() {
        while true {
            items.wait()
            let m = queue.withLock { $0.removeFirst() }
            slots.signal()
            switch m {
            case .stop:
                done.signal()
                return
            case .batch(let b):
                defer { spent.withLock { $0.append(b) } }
                guard results.withLock({ $0.failure == nil }) else { continue }
                do throws(StoreError) {
                    let new = try write(b)
                    results.withLock { $0.newFindings += new }
                } catch {
                    box.store.rollback()
                    results.withLock { $0.failure = error }
                }
            }
        }
    }

    private func write(_ b: WriteBatch) throws(StoreError) -> [Finding] {
        let store = box.store
        for a in b.events {
            try store.append(a.event, source: a.source, line: a.line, offset: a.offset, receivedAt: b.receivedAt, summarize: false)
        }
        if !b.events.isEmpty { try store.addSummary(b.summary) }
        for r in b.rejections {
            try store.reject(r.rejection, raw: r.raw, length: r.length, source: r.source, line: r.line, offset: r.offset,
                             receivedAt: b.receivedAt)
        }
        var new: [Finding] = []
        for f in b.findings where try store.record(f, recordedAt: b.receivedAt) { new.append(f) }
        for c in b.checkpoints { try store.save(c, at: b.receivedAt) }
        try store.commit(snapshot: b.snapshot, at: b.receivedAt)
        return new
    }
}
