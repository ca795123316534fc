import Geometry

/// Memory of one training step, per rank, for a partitioned model: every tensor shard
/// (halos included), when each activation and gradient buffer is alive, and its offset
/// in one arena per rank that the training runtime allocates once and hands out.
///
/// Time is the schedule `steps`: the partition's forward ops (the data op first), then its
/// backward ops (the reverse order). A buffer lives from the first step that reads or
/// writes it on any rank to the last (any rank: a rank must keep a shard while a
/// neighbour receives from it); gradients are zeroed at their first writer, and results
/// (the loss) live to the end of the step. Parameters, their gradients and optimizer
/// state live for the whole run and sit outside the arena.
public struct MemoryPlan: Sendable {
    public let partition: Partition
    public let options: PlanOptions
    public let steps: [PlanStep]
    /// One plan per rank, indexed by rank.
    public let rankPlans: [RankPlan]

    public var ranks: Int { partition.ranks }
}
