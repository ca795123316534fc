/// The dump's own totals beside the same tensors as the imported model holds them, for
/// the first line of a plan report: the check that import and partition lose nothing.
public struct GraphTotals: Sendable, Equatable {
    public var source: String
    public var tensors: Int
    public var ops: Int
    /// The dump's bytes: all tensors at once, and parameters.
    public var totalBytes: Int
    public var parameterBytes: Int
    /// The dump's tensors at the model's shapes (equal to `totalBytes` at the dump's
    /// batch and image size).
    public var modelBytes: Int
    /// The dump's tensors' shards on each rank.
    public var bytesPerRank: [Int]

    public init(imported: ImportedGraph, plan: MemoryPlan) {
        let names = imported.tensorNames.compactMap { $0 }
        source = imported.graph.source
        tensors = imported.graph.tensors.count
        ops = imported.graph.ops.count
        totalBytes = imported.graph.totalBytes
        parameterBytes = imported.graph.parameterBytes
        modelBytes = imported.tensorBytes
        bytesPerRank = plan.rankPlans.map { $0.bytes(of: names) }
    }
}
