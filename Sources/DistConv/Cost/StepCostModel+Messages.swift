import Comm
import Foundation
import Geometry

/// Messages: redistributions as the planner sends them, allreduces, allgathers.
extension StepCostModel {
    /// The link between two ranks: one node when `r / ranksPerNode == q / ranksPerNode`.
    func link(_ r: Int, _ q: Int) -> LinkCost {
        let perNode = max(rates.ranksPerNode, 1)
        return r / perNode == q / perNode ? rates.intraNode : rates.interNode
    }

    /// The link a collective over `ranks` ranks is limited by: the slowest one it uses.
    func collectiveLink(ranks: Int) -> LinkCost { ranks <= max(rates.ranksPerNode, 1) ? rates.intraNode : rates.interNode }

    /// One rank's time for a redistribution: each message packed (sends) and unpacked
    /// (receives) at `copy`, its own part copied locally, the messages, sends and
    /// receives in flight together (the longer side counts), and, when it has messages,
    /// the wait for its peers (`synchronisation`).
    func messagesSeconds(_ plan: RedistributionPlan) -> Double {
        let es = elementSize
        var pack = 0.0, send = 0.0, receive = 0.0
        for t in plan.sends {
            pack += rates.copy.seconds(bytes: t.count * es)
            send += link(plan.rank, t.peer).seconds(bytes: t.count * es)
        }
        for t in plan.receives {
            pack += rates.copy.seconds(bytes: t.count * es)
            receive += link(plan.rank, t.peer).seconds(bytes: t.count * es)
        }
        let local = plan.localCopies.reduce(0) { $0 + $1.volume }
        let wait = plan.sends.isEmpty && plan.receives.isEmpty ? 0 : rates.synchronisation
        return pack + max(send, receive) + rates.copy.seconds(bytes: local * es) + wait
    }

    func exchangeSeconds(_ ex: ExecutionPlan.Exchange, rank: Int) -> Double {
        messagesSeconds(RedistributionPlan(from: Self.withoutCopies(ex.source, mode: ex.mode, rank: rank), to: ex.target,
                                           rank: rank, mode: ex.mode))
    }

    /// In copy mode an element comes from the lowest writer, so a writer whose rect a
    /// lower one already writes (a replica) sends nothing to anyone but itself: leaving
    /// it out gives `rank` the same plan, without the planner subtracting every lower
    /// writer from every replica's overlap (quadratic in the ranks for a replicated op).
    static func withoutCopies(_ layout: TensorLayout, mode: RedistributionMode, rank: Int) -> TensorLayout {
        guard mode == .copy else { return layout }
        var seen = Set<Rect>()
        var changed = false
        let writes = layout.write.enumerated().map { q, w -> Rect? in
            if w.isEmpty || q == rank { return w }
            if !seen.insert(w).inserted {
                changed = true
                return nil
            }
            return w
        }
        return changed ? TensorLayout(shape: layout.shape, write: writes, read: layout.read.map { $0 }) : layout
    }

    /// A sharded parameter's gradient sum over the ranks holding each part (accumulate).
    func shardedGradientSeconds(_ p: ExecutionPlan.Parameter, rank: Int) -> Double {
        let layout = TensorLayout(shape: p.shape, write: zip(p.rects, p.contributes).map { $1 ? $0 : nil }, read: p.rects)
        return messagesSeconds(RedistributionPlan(from: layout, to: layout, rank: rank, mode: .accumulate))
    }

    /// An allreduce of `bytes` over `ranks` ranks: the cheapest of the algorithms Open
    /// MPI's tuned component chooses among by message size and ranks: a ring
    /// (reduce-scatter then allgather, `2(R-1)` messages of `bytes/R`), recursive
    /// doubling (`ceil(log2 R)` messages of all the bytes) and Rabenseifner's recursive
    /// halving then doubling (`2 ceil(log2 R)` messages, `2(R-1)/R` of the bytes in all).
    public func allreduceSeconds(bytes: Int, ranks: Int) -> Double {
        guard ranks > 1, bytes > 0 else { return 0 }
        let l = collectiveLink(ranks: ranks)
        let r = Double(ranks), b = Double(bytes)
        let ring = 2 * (r - 1) * l.alpha + 2 * (r - 1) / r * b * l.beta
        let doubling = ceil(log2(r)) * (l.alpha + b * l.beta)
        let halving = 2 * ceil(log2(r)) * l.alpha + 2 * (r - 1) / r * b * l.beta
        return min(ring, doubling, halving)
    }

    /// An allgather of `bytes` from each of `ranks` ranks (a ring: `R-1` steps).
    func allgatherSeconds(bytes: Int, ranks: Int) -> Double {
        guard ranks > 1 else { return 0 }
        return Double(ranks - 1) * collectiveLink(ranks: ranks).seconds(bytes: bytes) + rates.synchronisation
    }

    /// Batch norm's statistics, gathered from every rank in forward and again in backward
    /// (`Network.makeReducer`): three Doubles per channel of the shard.
    func statisticsSeconds(_ s: ExecutionPlan.Step, plan: ExecutionPlan) -> Double {
        guard case .batchNorm = s.op.kind else { return 0 }
        return allgatherSeconds(bytes: 3 * s.regions.output.size[1] * 8, ranks: plan.ranks)
    }

    /// Per op index, its share of the replicated gradients' allreduce: the buckets the
    /// runtime makes (`GradientBucket`, parameters in backward order), each costed
    /// alone, and the wait for the last rank at the end of backward (`synchronisation`,
    /// once a step), shared out by the op's parameter bytes.
    func allreduceShares(_ plan: ExecutionPlan) -> [Int: Double] {
        let replicated = plan.parameters.filter(\.replicated).sorted { $0.op > $1.op }
        guard plan.ranks > 1, !replicated.isEmpty else { return [:] }
        var offset = 0
        var entries: [(Int, Int, Int, Int)] = []
        for (k, p) in replicated.enumerated() {
            entries.append((k, p.op, offset, p.rect.volume))
            offset += p.rect.volume
        }
        let buckets = GradientBucket.make(parameters: entries, bucketElements: max(1, bucketBytes / elementSize))
        let total = buckets.reduce(0) { $0 + allreduceSeconds(bytes: $1.count * elementSize, ranks: plan.ranks) }
            + rates.synchronisation
        var shares: [Int: Double] = [:]
        for p in replicated { shares[p.op, default: 0] += total * Double(p.rect.volume) / Double(offset) }
        return shares
    }
}
