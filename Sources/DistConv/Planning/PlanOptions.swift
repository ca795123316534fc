/// Choices that change a memory plan but not the partition.
public struct PlanOptions: Sendable, Equatable {
    /// Decides the bytes of optimizer state per parameter byte.
    public var optimizer: OptimizerKind
    /// Every arena buffer starts at a multiple of this many bytes (SIMD loads, cache
    /// lines); sizes are rounded up to it for packing. The lower bound uses exact bytes.
    public var alignment: Int
    public var strategy: ArenaStrategy
    /// MPI's temporaries for gradient buckets in flight (`Network.bucketsInFlight` of
    /// 2 MB buckets).
    public var allreduceInFlightBytes: Int = 4 * (2 << 20)
    /// The kernels and activation layout the plan is for (blocked layouts pad channels).
    public var kernels: ExecutionPlan.Kernels = .preferred

    public init(optimizer: OptimizerKind = .momentum, alignment: Int = 64, strategy: ArenaStrategy = .best) {
        precondition(alignment >= 1, "alignment \(alignment)")
        self.optimizer = optimizer
        self.alignment = alignment
        self.strategy = strategy
    }
}
