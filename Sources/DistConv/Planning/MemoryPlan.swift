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

/// One step of the schedule: an op of the partition.
public struct PlanStep: Sendable, Equatable {
    public var name: String
    public var phase: OpLayout.Phase
}

/// One tensor's shard on one rank.
public struct TensorShard: Sendable, Equatable {
    public var tensor: String
    public var role: TensorLayout.Role
    /// The region stored: owned block plus halo, in global coordinates.
    public var region: Rect
    /// `region.volume * 4` (float32; labels are int32).
    public var bytes: Int
}

/// A buffer placed in a rank's arena.
public struct PlannedBuffer: Sendable, Equatable {
    public var shard: TensorShard
    /// Steps it is alive, both ends included.
    public var lifetime: ClosedRange<Int>
    /// Byte offset in the arena, a multiple of the plan's alignment.
    public var offset: Int

    public var tensor: String { shard.tensor }
    public var bytes: Int { shard.bytes }
}

/// What one rank holds: its shards, its arena and the totals of the report.
public struct RankPlan: Sendable {
    public var rank: Int
    /// Every tensor this rank stores any of, in the partition's order.
    public var shards: [TensorShard]
    /// The arena's buffers (activations, inputs, results, activation gradients).
    public var buffers: [PlannedBuffer]
    public var arenaBytes: Int
    /// The most bytes of arena buffers alive at one step (exact sizes).
    public var lowerBound: Int
    /// Bytes of arena buffers alive at each step.
    public var liveBytes: [Int]
    public var strategy: ArenaStrategy
    public var parameterBytes: Int
    public var parameterGradientBytes: Int
    public var optimizerStateBytes: Int
    /// Forward tensors: inputs, activations and results.
    public var activationBytes: Int
    public var activationGradientBytes: Int

    /// Persistent memory plus the arena: the most this rank needs at once.
    public var peakBytes: Int { parameterBytes + parameterGradientBytes + optimizerStateBytes + arenaBytes }
    /// Every shard at once (no reuse).
    public var allShardBytes: Int { shards.reduce(0) { $0 + $1.bytes } }
    /// Arena size over the lower bound (1 when the arena is empty).
    public var ratio: Double { lowerBound == 0 ? 1 : Double(arenaBytes) / Double(lowerBound) }

    public func buffer(_ tensor: String) -> PlannedBuffer? { buffers.first { $0.tensor == tensor } }

    /// Bytes of the named tensors' shards on this rank (absent ones count 0).
    public func bytes<S: Sequence>(of tensors: S) -> Int where S.Element == String {
        let wanted = Set(tensors)
        return shards.filter { wanted.contains($0.tensor) }.reduce(0) { $0 + $1.bytes }
    }
}
