import Geometry

/// Where the elements of a view lie in the buffer it is part of: runs of `length`
/// contiguous elements, one per index of `counts` (row-major, outermost first), the run
/// at index `i` starting `sum(i[k] * strides[k])` elements after the view's first. A
/// producer's output block inside its consumer's halo'd input of a 2x2 split is such a
/// view: one run per (image, channel block, row), `strides` those of the halo'd buffer.
public struct StridedRuns: Sendable, Equatable {
    public var length: Int
    public var counts: [Int]
    public var strides: [Int]

    /// `inner` as runs of a row-major buffer storing `outer`, with the view starting at
    /// `inner`'s origin; nil when `inner` is one contiguous run there (no strides needed)
    /// or not inside `outer`.
    public init(length: Int, counts: [Int], strides: [Int]) {
        self.length = length
        self.counts = counts
        self.strides = strides
    }

    public init?(inner: Rect, outer: Rect) {
        guard inner.dimensions == outer.dimensions, !inner.isEmpty, outer.contains(inner) else { return nil }
        let d = inner.dimensions
        var outerStrides = [Int](repeating: 1, count: d)
        for k in stride(from: d - 2, through: 0, by: -1) { outerStrides[k] = outerStrides[k + 1] * outer.size[k + 1] }
        // Inner dimensions stored whole extend the run, then the first partial one.
        var k = d - 1
        var length = 1
        while k >= 0 && inner.size[k] == outer.size[k] {
            length *= inner.size[k]
            k -= 1
        }
        if k >= 0 {
            length *= inner.size[k]
            k -= 1
        }
        let dims = (0..<(k + 1)).filter { inner.size[$0] > 1 }
        guard !dims.isEmpty else { return nil }
        self.length = length
        counts = dims.map { inner.size[$0] }
        strides = dims.map { outerStrides[$0] }
    }

    /// Number of runs.
    public var runCount: Int { counts.reduce(1, *) }
    /// Elements from the view's first to one past its last.
    public var span: Int { zip(counts, strides).reduce(length) { $0 + ($1.0 - 1) * $1.1 } }

    /// A dense buffer of the same runs: one after another.
    public func dense() -> StridedRuns {
        var d = self
        d.counts = [runCount]
        d.strides = [length]
        return d
    }

    /// The first element of run `i` (row-major over `counts`), from the view's first.
    @inline(__always)
    public func offset(ofRun i: Int) -> Int {
        var rest = i, offset = 0
        for k in stride(from: counts.count - 1, through: 0, by: -1) {
            offset += rest % counts[k] * strides[k]
            rest /= counts[k]
        }
        return offset
    }

    /// Calls `body(offset)` with each run's first element (from the view's first), in order.
    @inline(__always)
    public func forEachRun(_ body: (Int) -> Void) {
        if counts.count == 1 {
            for i in 0..<counts[0] { body(i * strides[0]) }
            return
        }
        var index = [Int](repeating: 0, count: counts.count)
        var offset = 0
        while true {
            body(offset)
            var k = counts.count - 1
            while k >= 0 {
                index[k] += 1
                offset += strides[k]
                if index[k] < counts[k] { break }
                offset -= strides[k] * counts[k]
                index[k] = 0
                k -= 1
            }
            if k < 0 { return }
        }
    }
}
