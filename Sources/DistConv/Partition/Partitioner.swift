import Geometry

extension Partition {
    /// Partitions `model` over `ranks` ranks. An op's grid may span fewer ranks than the
    /// job: rank `r` then takes the block of grid rank `r mod P` (P = the grid's ranks), so
    /// ranks `r` and `r + P` compute the same block (a replicated grid, for a batch too
    /// small to split over every rank). Ranks `0 ..< P` are the block's primaries: they
    /// alone contribute to sums over ranks (see `Op.isPrimary(rank:)`).
    ///
    /// Forward tensors are written by their producer's block and read where their
    /// consumers' inputs reach (the union over consumers, halos included); a tensor no op
    /// reads is read where it is written. Gradients mirror their tensors (a rank writes
    /// gradient into its read region and reads back its owned region), parameter
    /// gradients are read and written where the parameter is read. Errors name the op and
    /// the field (`ModelError`).
    public init(model: Model, ranks: Int) throws {
        guard ranks >= 1 else { throw ModelError(file: model.source, field: "ranks", "is \(ranks), must be at least 1") }
        for op in model.ops { try Self.validate(op, ranks: ranks, source: model.source) }
        self.model = model
        self.ranks = ranks
        self.tensors = []
        self.ops = []

        // Forward regions of every op on every rank.
        let regions: [[ForwardRegions]] = model.ops.map { op in
            let grid = ProcessGrid(shape: op.grid)
            return (0..<ranks).map { op.regions(coordinates: grid.coordinates(ofRank: $0 % grid.count)) }
        }
        var builder = PartitionBuilder(model: model, ranks: ranks)
        builder.addForward(regions)
        builder.addBackward(regions)
        self.tensors = builder.tensors
        self.ops = builder.ops
        for (i, t) in tensors.enumerated() { tensorIndex[t.name] = i }
    }

    static func validate(_ op: Op, ranks: Int, source: String) throws {
        let shape = op.partitionedShape
        let grid = op.grid
        let product = grid.reduce(1, *)
        guard product <= ranks else {
            throw ModelError(file: source, op: op.name, field: "grid",
                             "\(grid) spans \(product) ranks, but the job has \(ranks) (--ranks)")
        }
        let names = ["N", "C", "H", "W"]
        if let (dims, reason) = op.splittableDimensions {
            for d in 0..<4 where grid[d] > 1 && !dims.contains(d) {
                throw ModelError(file: source, op: op.name, field: "grid", "\(grid) splits \(names[d]); \(reason)")
            }
        }
        for d in 0..<4 where grid[d] > shape[d] {
            throw ModelError(file: source, op: op.name, field: "grid",
                             "\(grid) splits \(names[d]) of length \(shape[d]) into \(grid[d]) parts: finer than the tensor \(shape)")
        }
        if case .locallyConnected(let s) = op.kind {
            // Blocks must hold whole tiles: the weights are untied per tile.
            for d in 0..<2 {
                let tiles = shape[2 + d] / s.tileSize[d]
                if tiles % grid[2 + d] != 0 && grid[2 + d] > tiles {
                    throw ModelError(file: source, op: op.name, field: "grid",
                                     "\(grid) splits \(tiles) tiles along \(names[2 + d]) into \(grid[2 + d]) parts")
                }
                for b in 0..<grid[2 + d] {
                    let tileRange = blockRange(length: tiles, parts: grid[2 + d], index: b)
                    let rows = blockRange(length: shape[2 + d], parts: grid[2 + d], index: b)
                    if rows.lowerBound != tileRange.lowerBound * s.tileSize[d] || rows.count != tileRange.count * s.tileSize[d] {
                        throw ModelError(file: source, op: op.name, field: "grid",
                                         "\(grid) cuts through a tile: \(names[2 + d]) of length \(shape[2 + d]) in tiles of \(s.tileSize[d]) does not split evenly into \(grid[2 + d]) parts of whole tiles")
                    }
                }
            }
        }
    }
}
