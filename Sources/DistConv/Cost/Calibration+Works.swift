import Foundation
import Geometry
import Kernels

extension Calibration {
    /// The kernel calls one rank makes in a training step of `partition`, listed by the
    /// cost model's own rules (`StepCostModel`'s works of each step of the runtime's
    /// `ExecutionPlan`: shards with their halos, layouts, reorders, the overlapped
    /// convolutions' boundary strips), so its lookups find these samples exactly. With
    /// each, the layout the kernel really reads (a work's `block` is its output's for
    /// convolutions: the first one reads NCHW data). `data` is the data set's variant
    /// (`synthetic`, `idx`, `npy`).
    static func plannedWorks(of partition: Partition, rank: Int, data: String = "synthetic",
                             optimizer: OptimizerKind = .momentum) throws -> [(work: KernelWork, input: ActivationLayout)] {
        let plan = try ExecutionPlan(partition: partition, rank: rank)
        let model = StepCostModel(rates: MachineProfile.empty, optimizer: optimizer, dataVariant: data)
        var result: [(work: KernelWork, input: ActivationLayout)] = []
        for s in plan.steps {
            let input = s.regions.inputLayout
            if s.loadsData {
                result.append((KernelWork(kind: .dataLoad, input: [], output: s.regions.input.size, variant: data), .nchw))
            }
            if let r = s.inputReorder { result.append((model.reorderWork(r), r.fromLayout)) }
            result += model.forwardWorks(s).map { ($0, input) }
            if let ex = s.inputExchange, ex.mode == .copy, let layer = s.layer as? any OverlappingLayer,
               let strips = layer.overlapStrips(own: ex.block)
            {
                result += model.stripWorks(s, strips).map { ($0, input) }
            }
            if s.hasBackward {
                result += (model.backwardDataWorks(s) + model.backwardWeightsWorks(s)).map { ($0, input) }
                if let r = s.gradientReorder { result.append((model.reorderWork(r), r.fromLayout)) }
            }
            for k in s.parameters where plan.parameters[k].op == s.index && !plan.parameters[k].rect.isEmpty {
                let work = KernelWork(kind: .optimizerUpdate, input: [], output: [plan.parameters[k].rect.volume],
                                      variant: optimizer.rawValue)
                result.append((work, .nchw))
            }
        }
        return result
    }

    /// `plannedWorks`' works alone.
    public static func works(of partition: Partition, rank: Int, data: String = "synthetic") throws -> [KernelWork] {
        try plannedWorks(of: partition, rank: rank, data: data).map(\.work)
    }

    /// Every rank's works of `model` under each fixed grid policy at each of `rankCounts`,
    /// each distinct work once. Policies that do not fit a rank count are skipped.
    public static func works(of model: Model, data: String, rankCounts: [Int]) throws -> [KernelWork] {
        try plannedWorks(of: model, data: data, rankCounts: rankCounts).map(\.work)
    }

    static func plannedWorks(of model: Model, data: String, rankCounts: [Int]) throws
        -> [(work: KernelWork, input: ActivationLayout)]
    {
        var seen = Set<KernelWork>(), result: [(work: KernelWork, input: ActivationLayout)] = []
        for ranks in rankCounts {
            for policy in GridPolicy.allCases {
                guard let gridded = try? policy.apply(to: model, ranks: ranks),
                      let partition = try? Partition(model: gridded, ranks: ranks) else { continue }
                for rank in 0..<ranks {
                    for w in try plannedWorks(of: partition, rank: rank, data: data) where seen.insert(w.work).inserted {
                        result.append(w)
                    }
                }
            }
        }
        return result
    }
}
