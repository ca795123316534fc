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

    /// The regions this op touches on the rank at grid `coordinates`.
    func regions(coordinates c: [Int]) -> ForwardRegions {
        let block = Rect(shape: partitionedShape).block(parts: grid, at: c)
        func window(_ kernel: [Int], _ stride: [Int], _ padding: [Int], _ dilation: [Int]) -> (Range<Int>, Range<Int>) {
            let h = receptiveField(of: block.range(2), kernel: kernel[0], stride: stride[0], padding: padding[0],
                                   dilation: dilation[0], inputLength: inputShape[2])
            let w = receptiveField(of: block.range(3), kernel: kernel[1], stride: stride[1], padding: padding[1],
                                   dilation: dilation[1], inputLength: inputShape[3])
            return (h, w)
        }
        func rect(_ ranges: [Range<Int>]) -> Rect {
            Rect(origin: ranges.map(\.lowerBound), size: ranges.map(\.count))
        }
        let n = block.range(0)

        switch kind {
        case .data:
            let whole = Rect(shape: outputShape)
            return ForwardRegions(input: nil, result: block,
                                  outputs: [whole, Rect(shape: [outputShape[0], 1, 1, 1])])

        case .conv2d(let s):
            let (h, w) = window(s.kernel, s.stride, s.padding, s.dilation)
            let co = block.range(1)
            // With groups, an output channel block needs only the input channels of its groups.
            let cinPerGroup = inputShape[1] / s.groups, coutPerGroup = s.outChannels / s.groups
            let ci = co.isEmpty ? 0..<0 : (co.lowerBound / coutPerGroup * cinPerGroup)..<((co.upperBound - 1) / coutPerGroup * cinPerGroup + cinPerGroup)
            let filters = rect([co, 0..<cinPerGroup, 0..<s.kernel[0], 0..<s.kernel[1]])
            var params = [(s.weights, filters)]
            if let b = s.bias { params.append((b, rect([co]))) }
            return ForwardRegions(input: rect([n, ci, h, w]), filters: filters, result: block,
                                  parameters: params, outputs: [block])

        case .locallyConnected(let s):
            let ty = (block.range(2).lowerBound / s.tileSize[0])..<(block.range(2).upperBound / s.tileSize[0])
            let tx = (block.range(3).lowerBound / s.tileSize[1])..<(block.range(3).upperBound / s.tileSize[1])
            let h = receptiveField(of: ty, kernel: s.kernel[0], stride: s.tileStride, padding: 0, inputLength: inputShape[2])
            let w = receptiveField(of: tx, kernel: s.kernel[1], stride: s.tileStride, padding: 0, inputLength: inputShape[3])
            let filters = rect([block.range(1), 0..<s.tileSize[0], 0..<s.tileSize[1], 0..<inputShape[1],
                                0..<s.kernel[0], 0..<s.kernel[1], ty, tx])
            return ForwardRegions(input: rect([n, 0..<inputShape[1], h, w]), filters: filters, result: block,
                                  parameters: [(s.weights, filters)], outputs: [block])

        case .affine(let scale, let bias):
            let b = rect([0..<1, block.range(1), block.range(2), block.range(3)])
            return ForwardRegions(input: block, result: block, parameters: [(scale, Rect(shape: [1])), (bias, b)],
                                  outputs: [block])

        case .activation, .dropout:
            return ForwardRegions(input: block, result: block, outputs: [block])

        case .batchNorm(let s):
            let c = rect([block.range(1)])
            return ForwardRegions(input: block, result: block, parameters: [(s.gamma, c), (s.beta, c)], outputs: [block])

        case .pool(let s):
            let (h, w) = window(s.kernel, s.stride, s.padding, [1, 1])
            return ForwardRegions(input: rect([n, block.range(1), h, w]), result: block, outputs: [block])

        case .flatten:
            let input = rect([n, 0..<inputShape[1], 0..<inputShape[2], 0..<inputShape[3]])
            return ForwardRegions(input: input, result: block, outputs: [block])

        case .linear(let s):
            // Each rank multiplies its block of the input by the matching block of the
            // weights: a partial sum of the whole output for its batch rows.
            let filters = rect([0..<s.outFeatures] + (1..<4).map { block.range($0) })
            let result = rect([n, 0..<s.outFeatures, 0..<1, 0..<1])
            var params = [(s.weights, filters)]
            if let b = s.bias { params.append((b, Rect(shape: [s.outFeatures]))) }
            return ForwardRegions(input: block, filters: filters, result: result, parameters: params, outputs: [result])

        case .loss:
            let whole = Rect(shape: outputShape)
            return ForwardRegions(input: block, result: whole, labels: rect([n, 0..<1, 0..<1, 0..<1]),
                                  outputs: [whole, block])

        case .evaluate:
            let whole = Rect(shape: outputShape)
            return ForwardRegions(input: block, result: whole, labels: rect([n, 0..<1, 0..<1, 0..<1]),
                                  outputs: [whole])
        }
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
