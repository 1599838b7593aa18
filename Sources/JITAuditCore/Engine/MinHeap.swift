/// Where an element sits in a ``MinHeap``: event time, then arrival.
struct HeapOrder: Comparable, Sendable {
    var ts: Int64
    var seq: UInt64
    @inline(__always) static func < (a: HeapOrder, b: HeapOrder) -> Bool { a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq }
}

/// An element a ``MinHeap`` can order.
protocol HeapOrdered: Sendable {
    var heapOrder: HeapOrder { get }
}

/// A binary min-heap. The engine's reorder buffer, timer queue and finding
/// queue are all heaps ordered by event time, then arrival.
///
/// The sort keys live in an array of their own, parallel to the elements:
/// sifting compares plain integers and moves elements only by swapping, so
/// the references inside elements (events, ids) are never retained or
/// released on the way (that traffic was a tenth of the engine's time).
struct MinHeap<Element: HeapOrdered>: Sendable {
    private(set) var items: [Element] = []
    private var keys: [HeapOrder] = []

    init() {}
    init(unordered: [Element]) { for e in unordered { push(e) } }
    /// Elements already in heap order (as ``items`` lists them); re-sifted if they are not.
    init(heapOrdered: [Element]) {
        items = heapOrdered
        keys = heapOrdered.map(\.heapOrder)
        for i in keys.indices.dropFirst() where keys[i] < keys[(i - 1) / 2] {
            self = MinHeap(unordered: heapOrdered)
            return
        }
    }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var top: Element? { items.first }
    /// The smallest key, without touching the element.
    var topOrder: HeapOrder? { keys.first }

    mutating func push(_ e: Element) {
        keys.append(e.heapOrder)
        items.append(e)
        siftUp(from: keys.count - 1)
    }

    @discardableResult
    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        let last = items.count - 1
        if last > 0 {
            keys.swapAt(0, last)
            items.withUnsafeMutableBufferPointer { $0.swapAt(0, last) }
        }
        keys.removeLast()
        let result = items.removeLast()
        siftDown()
        return result
    }

    // Elements move through unsafe buffers: `Array.swapAt` copies (retains
    // and releases) both elements, the buffer's swap only moves them.
    private mutating func siftUp(from start: Int) {
        keys.withUnsafeMutableBufferPointer { k in
            items.withUnsafeMutableBufferPointer { v in
                var i = start
                while i > 0 {
                    let parent = (i - 1) / 2
                    guard k[i] < k[parent] else { break }
                    k.swapAt(i, parent)
                    v.swapAt(i, parent)
                    i = parent
                }
            }
        }
    }

    private mutating func siftDown() {
        keys.withUnsafeMutableBufferPointer { k in
            items.withUnsafeMutableBufferPointer { v in
                let n = k.count
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < n, k[l] < k[m] { m = l }
                    if r < n, k[r] < k[m] { m = r }
                    if m == i { break }
                    k.swapAt(i, m)
                    v.swapAt(i, m)
                    i = m
                }
            }
        }
    }
}

extension MinHeap: Codable where Element: Codable {
    init(from decoder: any Decoder) throws {
        // The stored array is already in heap order.
        items = try [Element](from: decoder)
        keys = items.map(\.heapOrder)
    }
    func encode(to encoder: any Encoder) throws { try items.encode(to: encoder) }
}
