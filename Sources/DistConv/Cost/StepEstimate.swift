/// The predicted time and memory of one training step, per op, on the slowest rank.
/// Groups match the measured `TimeBreakdown` (compute, halo, allreduce, data) so a
/// prediction and a run's `--timings` compare line by line.
public struct StepEstimate: Sendable, Equatable {
    public struct OpEstimate: Sendable, Equatable {
        /// The forward op this time belongs to (its backward and update included).
        public var op: String
        /// The grid the op ran on.
        public var grid: [Int]
        public var compute: Double
        /// Halo exchanges, reverse halos and layout changes into and out of the op.
        public var halo: Double
        /// The op's share of the gradient allreduce.
        public var allreduce: Double
        public var data: Double

        public init(op: String, grid: [Int], compute: Double = 0, halo: Double = 0, allreduce: Double = 0,
                    data: Double = 0) {
            self.op = op
            self.grid = grid
            self.compute = compute
            self.halo = halo
            self.allreduce = allreduce
            self.data = data
        }

        public var seconds: Double { compute + halo + allreduce + data }
    }

    public var ranks: Int
    public var ops: [OpEstimate]
    /// The most bytes any rank allocates (`RankPlan.peakBytes`, the largest).
    public var peakBytesPerRank: Int

    public init(ranks: Int, ops: [OpEstimate], peakBytesPerRank: Int) {
        self.ranks = ranks
        self.ops = ops
        self.peakBytesPerRank = peakBytesPerRank
    }

    public var compute: Double { ops.reduce(0) { $0 + $1.compute } }
    public var halo: Double { ops.reduce(0) { $0 + $1.halo } }
    public var allreduce: Double { ops.reduce(0) { $0 + $1.allreduce } }
    public var data: Double { ops.reduce(0) { $0 + $1.data } }
    /// The predicted step time.
    public var seconds: Double { compute + halo + allreduce + data }
}
