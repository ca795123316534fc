/// The points of a rect in row-major order (last dimension fastest), each a global
/// coordinate. An empty rect yields nothing; a 0-dimensional rect yields one empty point.
public struct RectPoints: Sequence, IteratorProtocol {
    private let rect: Rect
    private var next_: [Int]?

    init(_ rect: Rect) {
        self.rect = rect
        self.next_ = rect.isEmpty ? nil : rect.origin
    }

    public mutating func next() -> [Int]? {
        guard let current = next_ else { return nil }
        var p = current
        var d = rect.dimensions - 1
        while d >= 0 {
            p[d] += 1
            if p[d] < rect.origin[d] + rect.size[d] { break }
            p[d] = rect.origin[d]
            d -= 1
        }
        next_ = d < 0 ? nil : p
        return current
    }
}

extension Rect {
    /// Every point, row-major. For tests and small rects; kernels walk buffers instead.
    public var points: RectPoints { RectPoints(self) }
}
