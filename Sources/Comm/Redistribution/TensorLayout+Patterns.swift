import Geometry

extension TensorLayout {
    /// Blocks of a process grid, each read with a halo: rank `r` writes
    /// `grid.block(of: whole, rank: r)` and reads that block widened by `halo[d]` on both
    /// sides of dimension `d`, clipped to the tensor (outside is padding, not a halo).
    ///
    /// Ranks from `grid.count` up to `ranks` hold nothing. A halo may be wider than a
    /// neighbour's block; the data then comes from two or more ranks away. A block that is
    /// empty (more parts than elements) reads nothing either.
    ///
    /// - Precondition: `grid` and `halo` (when given) have the tensor's rank, halos are
    ///   not negative, and `ranks >= grid.count`.
    public static func blocks(
        shape: [Int], grid: ProcessGrid, halo: [Int]? = nil, ranks: Int? = nil
    ) -> TensorLayout {
        let halo = halo ?? Array(repeating: 0, count: shape.count)
        let ranks = ranks ?? grid.count
        precondition(grid.shape.count == shape.count, "grid \(grid) for tensor \(shape)")
        precondition(
            halo.count == shape.count && halo.allSatisfy { $0 >= 0 },
            "halo \(halo) for tensor \(shape)")
        precondition(ranks >= grid.count, "\(ranks) ranks for grid \(grid) of \(grid.count)")
        let whole = Rect(shape: shape)
        var write: [Rect?] = []
        var read: [Rect?] = []
        for r in 0..<ranks {
            guard r < grid.count else {
                write.append(nil)
                read.append(nil)
                continue
            }
            let block = grid.block(of: whole, rank: r)
            write.append(block)
            read.append(block.isEmpty ? nil : block.widened(by: halo).clipped(to: whole))
        }
        return TensorLayout(shape: shape, write: write, read: read)
    }

    /// The whole tensor on one rank (`root`), nothing elsewhere: the target of a gather
    /// and the source of a scatter.
    public static func whole(shape: [Int], on root: Int, ranks: Int) -> TensorLayout {
        precondition(root >= 0 && root < ranks, "root \(root) outside 0..<\(ranks)")
        let rects: [Rect?] = (0..<ranks).map { $0 == root ? Rect(shape: shape) : nil }
        return TensorLayout(shape: shape, rects: rects)
    }

    /// The whole tensor on every rank: a replicated tensor, or partial sums that every
    /// rank writes whole (the source of a reduce-scatter in accumulate mode).
    public static func replicated(shape: [Int], ranks: Int) -> TensorLayout {
        precondition(ranks >= 1, "replicated over \(ranks) ranks")
        return TensorLayout(shape: shape, rects: Array(repeating: Rect(shape: shape), count: ranks))
    }

    /// The gradient's layout: read and write swapped. A rank writes gradient into its whole
    /// read region (halo included) and reads back only what it owns, so the reverse halo
    /// exchange is `mirrored` to `mirrored` in accumulate mode.
    public var mirrored: TensorLayout {
        TensorLayout(shape: shape, write: read, read: write)
    }
}
