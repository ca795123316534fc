import Geometry

/// The regions one forward op touches on one rank: the input it reads, the filters, the
/// parameters and labels it reads, and the block of each output it writes.
struct ForwardRegions {
    var input: Rect?
    var filters: Rect?
    var result: Rect
    /// Parameter name -> region needed.
    var parameters: [(String, Rect)] = []
    var labels: Rect?
    /// Output name -> region written (same order as `Op.outputs`).
    var outputs: [Rect]
}

extension Op {
    /// Which dimensions of the grid this op allows to be split, and why, for errors.
    var splittableDimensions: (dims: Set<Int>, reason: String)? {
        switch kind {
        case .loss, .evaluate: return ([0], "a loss or evaluation splits only the batch")
        case .flatten: return ([0], "flatten splits only the batch")
        default: return nil
        }
    }

    /// The tensor shape the op's grid partitions.
    var partitionedShape: [Int] {
        switch kind {
        case .linear, .loss, .evaluate: return inputShape
        default: return outputShape
        }
    }

    /// The regions this op touches on the rank at grid `coordinates`: its layer's rule
    /// (`LayerPartitioning.regions`) for this rank's block of the partitioned tensor.
    func regions(coordinates c: [Int]) -> ForwardRegions {
        kind.layerType.regions(of: self, block: Rect(shape: partitionedShape).block(parts: grid, at: c))
    }

    /// The input rows and columns a block of a sliding window's output reads: its
    /// receptive field, clipped to the input (padding is zeros, not a halo).
    func window(_ block: Rect, kernel: [Int], stride: [Int], padding: [Int], dilation: [Int] = [1, 1])
        -> (Range<Int>, Range<Int>)
    {
        let h = receptiveField(of: block.range(2), kernel: kernel[0], stride: stride[0], padding: padding[0],
                               dilation: dilation[0], inputLength: inputShape[2])
        let w = receptiveField(of: block.range(3), kernel: kernel[1], stride: stride[1], padding: padding[1],
                               dilation: dilation[1], inputLength: inputShape[3])
        return (h, w)
    }

    /// True for ops whose output is a partial sum over ranks (to be added up by readers).
    var writesPartialSums: Bool {
        if case .linear = kind { return grid[1...].contains { $0 > 1 } }
        return false
    }

    /// Number of ranks the op's grid spans (at most the job's; see `Partition.init`).
    public var gridRanks: Int { grid.reduce(1, *) }

    /// True when `rank` is the first rank computing its block: on a replicated grid the
    /// other copies compute the same values and must not be counted again in sums over
    /// ranks (partial sums, reverse halos, parameter gradients, statistics, metrics).
    public func isPrimary(rank: Int) -> Bool { rank < gridRanks }

    /// True for ops that have a backward pass.
    var isDifferentiable: Bool {
        switch kind {
        case .data, .evaluate: return false
        default: return true
        }
    }

    var isLoss: Bool {
        if case .loss = kind { return true }
        return false
    }
}
