extension Rect {
    /// The points in both rects; empty (with as many dimensions) when they are disjoint.
    ///
    /// The origin of an empty intersection is the clamped start, so it still says where
    /// the rects would have met; only `isEmpty` and `volume` should be relied on then.
    public func intersection(_ other: Rect) -> Rect {
        precondition(dimensions == other.dimensions, "intersecting \(dimensions)-D \(self) with \(other.dimensions)-D \(other)")
        var o = [Int](repeating: 0, count: dimensions)
        var s = [Int](repeating: 0, count: dimensions)
        for d in 0..<dimensions {
            let lo = Swift.max(origin[d], other.origin[d])
            let hi = Swift.min(origin[d] + size[d], other.origin[d] + other.size[d])
            o[d] = lo
            s[d] = Swift.max(0, hi - lo)
        }
        return Rect(origin: o, size: s)
    }

    /// True when the rects share at least one point.
    public func intersects(_ other: Rect) -> Bool { !intersection(other).isEmpty }

    /// True when every point of `other` is in `self`. The empty rect is contained in
    /// every rect.
    public func contains(_ other: Rect) -> Bool {
        precondition(dimensions == other.dimensions, "\(dimensions)-D \(self) vs \(other.dimensions)-D \(other)")
        if other.isEmpty { return true }
        for d in 0..<dimensions where other.origin[d] < origin[d] || other.origin[d] + other.size[d] > origin[d] + size[d] {
            return false
        }
        return true
    }

    /// True when the point lies in the rect.
    public func contains(point p: [Int]) -> Bool {
        precondition(p.count == dimensions, "point \(p) has \(p.count) dimensions, rect \(self) has \(dimensions)")
        for d in 0..<dimensions where p[d] < origin[d] || p[d] >= origin[d] + size[d] { return false }
        return true
    }

    /// The smallest rect containing both. An empty operand does not widen the result.
    public func union(_ other: Rect) -> Rect {
        precondition(dimensions == other.dimensions, "\(dimensions)-D \(self) vs \(other.dimensions)-D \(other)")
        if other.isEmpty { return self }
        if isEmpty { return other }
        let lo = zip(origin, other.origin).map { Swift.min($0, $1) }
        let hi = zip(end, other.end).map { Swift.max($0, $1) }
        return Rect(origin: lo, size: zip(hi, lo).map { $0 - $1 })
    }

    /// The bounding rect of many; nil for none (or only empty ones).
    public static func bounding<S: Sequence>(_ rects: S) -> Rect? where S.Element == Rect {
        var acc: Rect?
        for r in rects where !r.isEmpty { acc = acc.map { $0.union(r) } ?? r }
        return acc
    }

    /// The rect moved by `offset` per dimension.
    public func shifted(by offset: [Int]) -> Rect {
        precondition(offset.count == dimensions, "offset \(offset) for \(dimensions)-D \(self)")
        return Rect(origin: zip(origin, offset).map { $0 + $1 }, size: size)
    }

    /// The rect limited to `bounds` (their intersection).
    public func clipped(to bounds: Rect) -> Rect { intersection(bounds) }

    /// The row-major (last dimension fastest) linear offset of a point of this rect, as in
    /// a contiguous buffer that stores exactly this rect.
    public func linearIndex(of p: [Int]) -> Int {
        var index = 0
        for d in 0..<dimensions { index = index * size[d] + (p[d] - origin[d]) }
        return index
    }
}
