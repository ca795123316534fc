import Geometry

extension Rect {
    /// The rect grown by `amount[d]` on both sides of every dimension `d` (not clipped).
    func widened(by amount: [Int]) -> Rect {
        Rect(
            origin: zip(origin, amount).map { $0 - $1 },
            size: zip(size, amount).map { $0 + 2 * $1 })
    }

    /// The points of `self` that are not in `other`, as disjoint rects (at most two per
    /// dimension): slabs below and above `other` are cut off one dimension at a time.
    /// `self` when they do not meet; nothing when `other` contains `self`.
    func subtracting(_ other: Rect) -> [Rect] {
        if isEmpty { return [] }
        let cut = intersection(other)
        if cut.isEmpty { return [self] }
        var pieces: [Rect] = []
        var rest = self
        for d in 0..<dimensions {
            if cut.origin[d] > rest.origin[d] {
                var below = rest
                below.size[d] = cut.origin[d] - rest.origin[d]
                pieces.append(below)
            }
            let cutEnd = cut.origin[d] + cut.size[d]
            let restEnd = rest.origin[d] + rest.size[d]
            if cutEnd < restEnd {
                var above = rest
                above.origin[d] = cutEnd
                above.size[d] = restEnd - cutEnd
                pieces.append(above)
            }
            rest.origin[d] = cut.origin[d]
            rest.size[d] = cut.size[d]
        }
        return pieces
    }
}

extension Array where Element == Rect {
    /// Every rect of the list minus `other`, still disjoint when the list was.
    func subtracting(_ other: Rect) -> [Rect] {
        if other.isEmpty { return self }
        return flatMap { $0.subtracting(other) }
    }
}
