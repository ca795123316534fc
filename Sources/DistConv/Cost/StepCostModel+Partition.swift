import Comm
import Geometry
import Kernels

/// An op's own cost (compute, parameter gradients' sums, data) on one rank straight from
/// a partition's rects, without building the rank's execution plan: what the grid
/// search prices every candidate with. Layouts follow `ExecutionPlan+Layouts`' rule
/// along the chain (blocked from the first layer that gives it to the first that takes
/// only NCHW); reorders and halos are left to the caller.
extension StepCostModel {
    /// Per op, the layouts it takes its input in and stores its output in.
    func layouts(_ model: Model) -> [(input: ActivationLayout, output: ActivationLayout)] {
        let preferred = kernels.layout
        var stored: [String: ActivationLayout] = [:]
        return model.ops.map { op in
            let input = op.input.flatMap { stored[$0] } ?? .nchw
            var result: (input: ActivationLayout, output: ActivationLayout) = (.nchw, .nchw)
            if case .blocked = preferred, op.outputs.count == 1, !op.writesPartialSums {
                switch op.kind.layerType.layouts(of: op) {
                case .nchw: result = (.nchw, .nchw)
                case .preserving: result = (input, input)
                case .blocking: result = (input, preferred)
                }
            }
            for o in op.outputs { stored[o] = result.output }
            return result
        }
    }

    func ownSeconds(_ model: Model, _ partition: Partition, _ i: Int, rank r: Int,
                    layouts: (input: ActivationLayout, output: ActivationLayout)) -> Double {
        let op = model.ops[i]
        guard let fwd = partition.ops.first(where: { $0.name == op.name && $0.phase == .forward }) else { return 0 }
        let input = fwd.distInput?[r] ?? Rect.empty(dimensions: 4)
        let regions = ShardRegions(input: input, output: fwd.distResult[r], extraOutput: nil, parameters: [],
                                   labels: nil, inputLayout: layouts.input, outputLayout: layouts.output,
                                   onednn: kernels != .reference)
        let producer = op.input.flatMap { name in model.ops.firstIndex { $0.outputs.contains(name) } } ?? 0
        let backward = op.isDifferentiable
        var seconds = forwardWorks(op, regions).reduce(0) { $0 + rates.seconds($1) }
        if backward {
            seconds += backwardDataWorks(op, regions, dx: producer > 0).reduce(0) { $0 + rates.seconds($1) }
            seconds += backwardWeightsWorks(op, regions).reduce(0) { $0 + rates.seconds($1) }
        }
        if case .batchNorm = op.kind {
            seconds += 2 * allgatherSeconds(bytes: 3 * regions.output.size[1] * 8, ranks: partition.ranks)
        }
        if producer == 0 {
            seconds += rates.seconds(KernelWork(kind: .dataLoad, input: [], output: input.size, variant: dataVariant))
        }
        for name in op.parameters where backward {
            let t = partition.tensor(name)
            let whole = Rect(shape: t.dim)
            let rects = t.read.map { $0 ?? Rect.empty(dimensions: t.dim.count) }
            seconds += rates.seconds(KernelWork(kind: .optimizerUpdate, input: [], output: [rects[r].volume],
                                                variant: optimizer.rawValue))
            if rects[0] == whole && rects[rects.count - 1] == whole && rects[r] == whole {
                // Buckets of the runtime's size: the op's bytes at the bucket's rate.
                let bytes = whole.volume * elementSize
                seconds += bytes <= bucketBytes
                    ? allreduceSeconds(bytes: bytes, ranks: partition.ranks)
                    : Double(bytes) / Double(bucketBytes) * allreduceSeconds(bytes: bucketBytes, ranks: partition.ranks)
            } else {
                let writes = rects.enumerated().map { op.isPrimary(rank: $0.offset) ? $0.element : nil }
                let layout = TensorLayout(shape: t.dim, write: writes, read: rects)
                seconds += messagesSeconds(RedistributionPlan(from: layout, to: layout, rank: r, mode: .accumulate))
            }
        }
        return seconds
    }
}
