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
    /// Layers' saved state (batch-norm statistics, max-pool indices, packed locally
    /// connected weights and their gradient) and labels: persistent, outside the arena.
    public var stateBytes: Int
    /// Exchange scratch (send and receive buffers of every redistribution) and MPI's
    /// temporaries for the gradient buckets in flight.
    public var scratchBytes: Int

    /// Everything this rank allocates: persistent memory plus the arena.
    public var peakBytes: Int {
        parameterBytes + parameterGradientBytes + optimizerStateBytes + arenaBytes + stateBytes + scratchBytes
    }

    /// The arena's largest buffer, for messages.
    public var largestBuffer: PlannedBuffer? { buffers.max { $0.bytes < $1.bytes } }
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
