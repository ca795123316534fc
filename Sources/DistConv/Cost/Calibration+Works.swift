import Foundation
import Geometry
import Kernels

extension Calibration {
    /// The kernel calls one rank makes in a training step of `partition`, read off the
    /// runtime's own plan (`ExecutionPlan`: the shards with their halos, the layouts it
    /// stores and the reorders it inserts), in the order they run: data loads, forward,
    /// backward (backward-weights, then backward-data where there is an input gradient),
    /// the optimizer's update of each parameter shard the rank holds. `data` is the data
    /// set's variant (`synthetic`, `idx`, `npy`), `optimizer` the update's.
    public static func works(of partition: Partition, rank: Int, data: String = "synthetic",
                             optimizer: String = "momentum") throws -> [KernelWork] {
        let plan = try ExecutionPlan(partition: partition, rank: rank)
        var forward: [KernelWork] = [], backward: [KernelWork] = []
        for s in plan.steps {
            let (f, b) = works(of: s, data: data)
            forward += f
            backward.insert(contentsOf: b, at: 0)
        }
        let updates = plan.parameters.compactMap { p -> KernelWork? in
            p.rect.isEmpty ? nil : KernelWork(kind: .optimizerUpdate, input: [], output: p.rect.size, variant: optimizer)
        }
        return forward + backward + updates
    }

    /// Every rank's works of `model` under each fixed grid policy at each of `rankCounts`,
    /// each distinct work once. Policies that do not fit a rank count are skipped.
    public static func works(of model: Model, data: String, rankCounts: [Int]) throws -> [KernelWork] {
        var seen = Set<KernelWork>(), result: [KernelWork] = []
        for ranks in rankCounts {
            for policy in GridPolicy.allCases {
                guard let gridded = try? policy.apply(to: model, ranks: ranks),
                      let partition = try? Partition(model: gridded, ranks: ranks) else { continue }
                for rank in 0..<ranks {
                    for w in try works(of: partition, rank: rank, data: data) where seen.insert(w).inserted {
                        result.append(w)
                    }
                }
            }
        }
        return result
    }

    /// One op's forward and backward works on this rank.
    static func works(of s: ExecutionPlan.Step, data: String) -> (forward: [KernelWork], backward: [KernelWork]) {
        let r = s.regions
        let input = r.input.size, output = r.output.size, block = r.inputLayout.blockSize
        var forward: [KernelWork] = [], backward: [KernelWork] = []
        if s.loadsData, !r.input.isEmpty {
            forward.append(KernelWork(kind: .dataLoad, input: [], output: input, variant: data))
        }
        if let re = s.inputReorder, !re.rect.isEmpty {
            forward.append(reorder(re.rect.size, from: re.fromLayout, to: re.intoLayout))
        }
        guard !r.output.isEmpty else { return (forward, backward) }
        let hasDx = s.dx != nil && s.hasBackward
        func pass(_ kind: KernelWork.Kind, window: [Int] = [], groups: Int = 1, variant: String = "") -> KernelWork {
            KernelWork(kind: kind, input: input, output: output, window: window, groups: groups, block: block,
                       variant: variant)
        }
        switch s.op.kind {
        case .conv2d(let c):
            let window = [c.kernel[0], c.kernel[1], c.stride[0], c.stride[1]]
            forward.append(pass(.convolutionForward, window: window, groups: c.groups))
            backward.append(pass(.convolutionBackwardWeights, window: window, groups: c.groups))
            if hasDx { backward.append(pass(.convolutionBackwardData, window: window, groups: c.groups)) }
        case .locallyConnected(let c):
            let window = [c.kernel[0], c.kernel[1], c.tileStride, c.tileStride]
            let variant = "tile \(c.tileSize[0])x\(c.tileSize[1])"
            forward.append(pass(.locallyConnectedForward, window: window, variant: variant))
            backward.append(pass(.locallyConnectedBackwardWeights, window: window, variant: variant))
            if hasDx { backward.append(pass(.locallyConnectedBackwardData, window: window, variant: variant)) }
        case .pool(let p):
            let window = [p.kernel[0], p.kernel[1], p.stride[0], p.stride[1]]
            let variant = p.mode == .max ? "max" : "average"
            forward.append(pass(.poolingForward, window: window, variant: variant))
            if hasDx { backward.append(pass(.poolingBackward, window: window, variant: variant)) }
        case .batchNorm:
            forward.append(pass(.batchNormForward))
            backward.append(pass(.batchNormBackward))
        case .activation(let a):
            forward.append(pass(.elementwiseForward, variant: a.rawValue))
            if hasDx { backward.append(pass(.elementwiseBackward, variant: a.rawValue)) }
        case .dropout:
            forward.append(pass(.elementwiseForward, variant: "dropout"))
            if hasDx { backward.append(pass(.elementwiseBackward, variant: "dropout")) }
        case .affine:
            forward.append(pass(.elementwiseForward, variant: "affine"))
            backward.append(pass(.elementwiseBackward, variant: "affine"))
        case .linear:
            forward.append(pass(.linearForward))
            backward.append(pass(.linearBackwardWeights))
            if hasDx { backward.append(pass(.linearBackwardData)) }
        case .loss(let l):
            forward.append(pass(.loss, variant: l.rawValue))
        case .data, .flatten, .evaluate:
            break
        }
        if let re = s.gradientReorder, !re.rect.isEmpty, s.hasBackward {
            backward.append(reorder(re.rect.size, from: re.fromLayout, to: re.intoLayout))
        }
        return (forward, backward)
    }

    static func reorder(_ shape: [Int], from: ActivationLayout, to: ActivationLayout) -> KernelWork {
        let toNCHW = to == .nchw
        return KernelWork(kind: .reorder, input: shape, output: shape, block: toNCHW ? from.blockSize : to.blockSize,
                          variant: toNCHW ? "to_nchw" : "")
    }
}
