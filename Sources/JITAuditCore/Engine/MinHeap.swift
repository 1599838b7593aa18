/// A binary min-heap. The engine's reorder buffer, timer queue and finding
/// queue are all heaps ordered by event time, then arrival.
struct MinHeap<Element: Comparable>: Sendable where Element: Sendable {
    private(set) var items: [Element] = []

    init() {}
    init(unordered: [Element]) { for e in unordered { push(e) } }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var top: Element? { items.first }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[i] < items[parent] { items.swapAt(i, parent); i = parent } else { break }
        }
    }

    @discardableResult
    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        if items.count == 1 { return items.removeLast() }
        let result = items[0]
        items[0] = items.removeLast()
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n, items[l] < items[m] { m = l }
            if r < n, items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return result
    }
}

extension MinHeap: Codable where Element: Codable {
    init(from decoder: any Decoder) throws {
        // The stored array is already in heap order.
        items = try [Element](from: decoder)
    }
    func encode(to encoder: any Encoder) throws { try items.encode(to: encoder) }
}
