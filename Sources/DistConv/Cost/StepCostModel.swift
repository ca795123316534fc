import Comm
import Geometry
import Kernels

/// Predicts one training step of a partitioned model, per rank and per op, from a
/// machine's rates: the kernel calls the runtime makes on each rank's shards, the
/// messages of every redistribution it performs, and the gradient allreduce.
///
/// What is counted, per op on one rank, walking that rank's `ExecutionPlan` (the plan the
/// runtime binds, so layouts, reorders, halos and recoveries are the runtime's own):
/// - compute: forward, backward-data (when the plan computes an input gradient),
///   backward-weights, the reorders where the storage layout changes, the optimizer
///   update of the parameters the rank holds, batch-norm statistics' allgathers (the
///   runtime times them inside the layer);
/// - halo: every input and gradient exchange as `RedistributionPlan` would send it (each
///   message packed and unpacked at `copy`, sent at `intraNode` or `interNode` by the
///   ranks' nodes, sends and receives in flight at once so the longer of the two
///   counts) and the output recoveries (local copies);
/// - allreduce: replicated gradients in `GradientBucket`s of `bucketBytes`, each the
///   cheapest of ring, recursive doubling and Rabenseifner (`allreduceSeconds`), the
///   algorithms Open MPI's tuned component picks among by message size; shared out to
///   ops by their parameters' bytes. Sharded
///   parameters' gradient sums are redistributions (accumulate). Buckets are not
///   assumed to overlap backward (Open MPI's non-blocking collectives progress only
///   inside MPI calls);
/// - data: loading the rank's input shards.
///
/// Overlap (`overlap`, the runtime's default): a layer that overlaps its input's halo
/// with compute shows only `max(0, halo - forward)` of it (the whole block is computed
/// while the halo is in flight; the boundary strips, recomputed after, add compute), and
/// its reverse halo `max(0, halo - backward-weights)`.
///
/// The step time is the slowest rank's sum. Ranks are not all evaluated: `ranks(for:)`
/// takes, for the most common grid, the corner, an edge and the centre rank and
/// the last primary rank (uneven splits put the larger blocks first), plus the job's
/// last rank; each costs one `ExecutionPlan` (linear in the job's ranks).
public struct StepCostModel: Sendable {
    public var rates: any MachineRates
    public var kernels: ExecutionPlan.Kernels
    public var optimizer: OptimizerKind
    public var overlap: Bool
    /// Bytes per gradient bucket (the runtime's default, 2 MiB).
    public var bucketBytes: Int
    /// The data set's kind, as `KernelWork.variant` of the data load.
    public var dataVariant: String
    /// Bytes per element (Float).
    public var elementSize: Int

    public init(rates: any MachineRates, kernels: ExecutionPlan.Kernels = .preferred, optimizer: OptimizerKind = .momentum,
                overlap: Bool = true, bucketBytes: Int = 2 << 20, dataVariant: String = "synthetic") {
        self.rates = rates
        self.kernels = kernels
        self.optimizer = optimizer
        self.overlap = overlap
        self.bucketBytes = bucketBytes
        self.dataVariant = dataVariant
        self.elementSize = 4
    }

    /// The data set `train` reads for a model when none is named: Fashion-MNIST's IDX
    /// files for 1x28x28 images, else the synthetic set (`--data`'s default), as the
    /// `variant` of its `dataLoad` works.
    public static func defaultDataVariant(for model: Model) -> String {
        Array(model.dataOp.outputShape.dropFirst()) == [1, 28, 28] ? "idx" : "synthetic"
    }

    /// The prediction for `partition`: the slowest of the representative ranks (or of
    /// `ranks` when given), with the larger peak memory of the first of them (rank 0,
    /// the largest blocks) and the slowest (a `MemoryPlan` of each: its exchanges'
    /// scratch makes it the costliest part at 1,024 ranks).
    public func estimate(_ partition: Partition, ranks: [Int]? = nil) throws -> StepEstimate {
        let chosen = ranks ?? Self.ranks(for: partition.model, ranks: partition.ranks)
        var slowest: (estimate: StepEstimate, plan: ExecutionPlan)?
        var options = PlanOptions(optimizer: optimizer)
        options.kernels = kernels
        var peak = 0
        for r in chosen {
            let plan = try ExecutionPlan(partition: partition, rank: r, kernels: kernels)
            let e = estimate(plan, partition: partition)
            // Rank 0 holds the largest blocks (uneven splits give the first ones the
            // extra rows); the slowest rank is planned too, below.
            if r == chosen[0] { peak = MemoryPlan.plan(plan, partition: partition, options: options).peakBytes }
            if e.seconds > slowest?.estimate.seconds ?? -1 { slowest = (e, plan) }
        }
        guard let (e, plan) = slowest else { preconditionFailure("no ranks to estimate for \(partition.model.name)") }
        var result = e
        if plan.rank != chosen[0] {
            peak = max(peak, MemoryPlan.plan(plan, partition: partition, options: options).peakBytes)
        }
        result.peakBytesPerRank = peak
        return result
    }

    /// The ranks whose shards differ the most: per distinct grid of the model, its
    /// corner, edge, centre and last primary rank; and the job's last rank (a replica
    /// where a grid spans fewer ranks). Sorted, without repeats; a few per grid.
    public static func ranks(for model: Model, ranks: Int) -> [Int] {
        var counts: [[Int]: Int] = [:]
        for op in model.ops { counts[op.grid, default: 0] += 1 }
        // The most common grids decide most of the step; a few suffice.
        let grids = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.lexicographicallyPrecedes($1.key) }
            .prefix(1).map(\.key)
        var out: Set<Int> = [0, ranks - 1]
        for g in grids {
            func rank(_ c: [Int]) -> Int { zip(c, g).reduce(0) { $0 * $1.1 + min($1.0, $1.1 - 1) } }
            let p = g.reduce(1, *)
            out.insert(min(p - 1, ranks - 1))
            out.insert(min(rank(g.map { $0 / 2 }), ranks - 1))
            out.insert(min(rank(g.enumerated().map { $0.offset == 2 ? $0.element / 2 : 0 }), ranks - 1))
        }
        return out.sorted()
    }

    /// The prediction for one rank's plan; `peakBytesPerRank` is left 0.
    public func estimate(_ plan: ExecutionPlan, partition: Partition) -> StepEstimate {
        var ops: [StepEstimate.OpEstimate] = []
        let shares = allreduceShares(plan)
        for s in plan.steps {
            var e = StepEstimate.OpEstimate(op: s.op.name, grid: s.op.grid)
            if s.loadsData {
                e.data += rates.seconds(KernelWork(kind: .dataLoad, input: [], output: s.regions.input.size,
                                                   variant: dataVariant))
            }
            if let r = s.inputReorder { e.compute += rates.seconds(reorderWork(r)) }
            let forward = forwardWorks(s).reduce(0) { $0 + rates.seconds($1) }
            e.compute += forward + statisticsSeconds(s, plan: plan)
            if let ex = s.inputExchange {
                let h = exchangeSeconds(ex, rank: plan.rank)
                if overlap, ex.mode == .copy, let layer = s.layer as? any OverlappingLayer,
                   let strips = layer.overlapStrips(own: ex.block)
                {
                    e.halo += max(0, h - forward)
                    e.compute += stripWorks(s, strips).reduce(0) { $0 + rates.seconds($1) }
                } else {
                    e.halo += h
                }
            }
            if s.hasBackward {
                if let ex = s.outputRecovery { e.halo += exchangeSeconds(ex, rank: plan.rank) }
                let data = backwardDataWorks(s).reduce(0) { $0 + rates.seconds($1) }
                let weights = backwardWeightsWorks(s).reduce(0) { $0 + rates.seconds($1) }
                e.compute += data + weights + statisticsSeconds(s, plan: plan)
                if let ex = s.gradientExchange {
                    let h = exchangeSeconds(ex, rank: plan.rank)
                    if overlap, ex.mode == .accumulate, s.layer is any OverlappingBackward {
                        e.halo += max(0, h - weights)
                    } else {
                        e.halo += h
                    }
                }
                if let r = s.gradientReorder { e.compute += rates.seconds(reorderWork(r)) }
            }
            for k in s.parameters where plan.parameters[k].op == s.index {
                let p = plan.parameters[k]
                e.compute += rates.seconds(KernelWork(kind: .optimizerUpdate, input: [], output: [p.rect.volume],
                                                      variant: optimizer.rawValue))
                if !p.replicated { e.allreduce += shardedGradientSeconds(p, rank: plan.rank) }
            }
            e.allreduce += shares[s.index] ?? 0
            ops.append(e)
        }
        return StepEstimate(ranks: plan.ranks, ops: ops, peakBytesPerRank: 0)
    }
}
