import Geometry
import Kernels

/// The local kernel calls of one op on one rank, as `KernelWork`s: shapes are the rank's
/// shards (`ShardRegions`, halo included), the block is the storage layout's.
extension StepCostModel {
    func forwardWorks(_ s: ExecutionPlan.Step) -> [KernelWork] {
        let r = s.regions
        let input = r.input.size, output = r.output.size
        let block = r.inputLayout.blockSize
        switch s.op.kind {
        case .data:
            return []
        case .conv2d(let c):
            return [KernelWork(kind: .convolutionForward, input: input, output: output, window: c.kernel + c.stride,
                               groups: c.groups, block: r.outputLayout.blockSize)]
        case .locallyConnected(let l):
            return [KernelWork(kind: .locallyConnectedForward, input: input, output: output,
                               window: l.kernel + [l.tileStride, l.tileStride])]
        case .pool(let p):
            return [KernelWork(kind: .poolingForward, input: input, output: output, window: p.kernel + p.stride,
                               block: block, variant: p.mode == .max ? "max" : "average")]
        case .batchNorm:
            return [KernelWork(kind: .batchNormForward, input: input, output: output, block: block)]
        case .activation, .dropout, .affine, .flatten:
            return [KernelWork(kind: .elementwiseForward, input: input, output: output, block: block,
                               variant: s.op.kind.typeName)]
        case .linear:
            return [KernelWork(kind: .linearForward, input: input, output: output)]
        case .loss(let l):
            return [KernelWork(kind: .loss, input: input, output: [input[0], 1, 1, 1], variant: l.rawValue)]
        case .evaluate:
            return [KernelWork(kind: .loss, input: input, output: [input[0], 1, 1, 1], variant: "evaluate")]
        }
    }

    /// The input gradient's calls (none when the plan computes no input gradient, as for
    /// the first layer after the data).
    func backwardDataWorks(_ s: ExecutionPlan.Step) -> [KernelWork] {
        let r = s.regions
        let input = r.input.size, output = r.output.size
        let block = r.inputLayout.blockSize
        switch s.op.kind {
        case .loss(let l):
            // The loss writes its logits' gradient whether or not anything reads it.
            return [KernelWork(kind: .loss, input: input, output: input, variant: "\(l.rawValue)_backward")]
        case .batchNorm:
            // One pass gives the input and the parameters' gradients.
            return [KernelWork(kind: .batchNormBackward, input: input, output: output, block: block)]
        default:
            break
        }
        guard s.dx != nil else { return [] }
        switch s.op.kind {
        case .conv2d(let c):
            return [KernelWork(kind: .convolutionBackwardData, input: input, output: output, window: c.kernel + c.stride,
                               groups: c.groups, block: r.outputLayout.blockSize)]
        case .locallyConnected(let l):
            return [KernelWork(kind: .locallyConnectedBackwardData, input: input, output: output,
                               window: l.kernel + [l.tileStride, l.tileStride])]
        case .pool(let p):
            return [KernelWork(kind: .poolingBackward, input: input, output: output, window: p.kernel + p.stride,
                               block: block, variant: p.mode == .max ? "max" : "average")]
        case .activation, .dropout, .affine, .flatten:
            return [KernelWork(kind: .elementwiseBackward, input: input, output: output, block: block,
                               variant: s.op.kind.typeName)]
        case .linear:
            return [KernelWork(kind: .linearBackwardData, input: input, output: output)]
        default:
            return []
        }
    }

    /// The parameter gradients' calls.
    func backwardWeightsWorks(_ s: ExecutionPlan.Step) -> [KernelWork] {
        let r = s.regions
        let input = r.input.size, output = r.output.size
        switch s.op.kind {
        case .conv2d(let c):
            return [KernelWork(kind: .convolutionBackwardWeights, input: input, output: output,
                               window: c.kernel + c.stride, groups: c.groups, block: r.outputLayout.blockSize)]
        case .locallyConnected(let l):
            return [KernelWork(kind: .locallyConnectedBackwardWeights, input: input, output: output,
                               window: l.kernel + [l.tileStride, l.tileStride])]
        case .linear:
            return [KernelWork(kind: .linearBackwardWeights, input: input, output: output)]
        default:
            return []
        }
    }

    /// The boundary strips an overlapped convolution recomputes once its halo is in:
    /// each strip's outputs and the input rows and columns their windows read.
    func stripWorks(_ s: ExecutionPlan.Step, _ strips: [(rows: Range<Int>, cols: Range<Int>)]) -> [KernelWork] {
        guard case .conv2d(let c) = s.op.kind else { return [] }
        let input = s.regions.input.size, output = s.regions.output.size
        func span(_ n: Int, _ d: Int) -> Int { n == 0 ? 0 : (n - 1) * c.stride[d] + (c.kernel[d] - 1) * c.dilation[d] + 1 }
        return strips.map { strip in
            KernelWork(kind: .convolutionForward,
                       input: [input[0], input[1], span(strip.rows.count, 0), span(strip.cols.count, 1)],
                       output: [output[0], output[1], strip.rows.count, strip.cols.count],
                       window: c.kernel + c.stride, groups: c.groups, block: s.regions.outputLayout.blockSize)
        }
    }

    func reorderWork(_ r: ExecutionPlan.Reorder) -> KernelWork {
        KernelWork(kind: .reorder, input: r.rect.size, output: r.rect.size,
                   block: max(r.fromLayout.blockSize, r.intoLayout.blockSize),
                   variant: r.intoLayout == .nchw ? "to_nchw" : "to_blocked")
    }
}
