/// The block of part `index` when `n` elements are split into `parts` parts: the first
/// `n mod parts` parts get one element more (41 over 2: 21 + 20), as in the reference dump.
///
/// - Precondition: `parts >= 1`, `0 <= index < parts`. When `parts > n` the trailing
///   blocks are empty; callers that must reject that check `parts <= n` themselves.
public func blockRange(length n: Int, parts: Int, index: Int) -> Range<Int> {
    precondition(parts >= 1 && index >= 0 && index < parts, "block \(index) of \(parts) parts")
    let base = n / parts
    let extra = n % parts
    let start = index * base + Swift.min(index, extra)
    let count = base + (index < extra ? 1 : 0)
    return start..<(start + count)
}

extension Rect {
    /// The block at `coordinates` when every dimension `d` is split into `parts[d]`
    /// parts by `blockRange`.
    public func block(parts: [Int], at coordinates: [Int]) -> Rect {
        precondition(parts.count == dimensions && coordinates.count == dimensions,
                     "block \(coordinates) of grid \(parts) for \(dimensions)-D \(self)")
        var o = origin
        var s = size
        for d in 0..<dimensions {
            let r = blockRange(length: size[d], parts: parts[d], index: coordinates[d])
            o[d] = origin[d] + r.lowerBound
            s[d] = r.count
        }
        return Rect(origin: o, size: s)
    }

    /// All blocks of a split, in the grid's rank order (see `ProcessGrid`). They tile the
    /// rect exactly, without overlap.
    public func split(parts: [Int]) -> [Rect] {
        let grid = ProcessGrid(shape: parts)
        return (0..<grid.count).map { block(parts: parts, at: grid.coordinates(ofRank: $0)) }
    }
}
