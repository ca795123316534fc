import Geometry
import Kernels

/// The local kernel calls of one op on one rank, as `KernelWork`s: shapes are the rank's
/// shards (`ShardRegions`, halo included), the block is the storage layout's. Each layer
/// says its own (`LayerPartitioning.forwardWorks` and the backward ones, in its file).
extension StepCostModel {
    func forwardWorks(_ s: ExecutionPlan.Step) -> [KernelWork] { forwardWorks(s.op, s.regions) }
    func backwardDataWorks(_ s: ExecutionPlan.Step) -> [KernelWork] { backwardDataWorks(s.op, s.regions, dx: s.dx != nil) }
    func backwardWeightsWorks(_ s: ExecutionPlan.Step) -> [KernelWork] { backwardWeightsWorks(s.op, s.regions) }

    func forwardWorks(_ op: Op, _ r: ShardRegions) -> [KernelWork] { op.kind.layerType.forwardWorks(of: op, r) }
    func backwardDataWorks(_ op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        op.kind.layerType.backwardDataWorks(of: op, r, dx: dx)
    }
    func backwardWeightsWorks(_ op: Op, _ r: ShardRegions) -> [KernelWork] {
        op.kind.layerType.backwardWeightsWorks(of: op, r)
    }

    /// The boundary strips an overlapped convolution recomputes once its halo is in.
    func stripWorks(_ s: ExecutionPlan.Step, _ strips: [(rows: Range<Int>, cols: Range<Int>)]) -> [KernelWork] {
        ConvolutionLayer.stripWorks(of: s.op, s.regions, strips)
    }

    func reorderWork(_ r: ExecutionPlan.Reorder) -> KernelWork {
        KernelWork(kind: .reorder, input: r.rect.size, output: r.rect.size,
                   block: max(r.fromLayout.blockSize, r.intoLayout.blockSize),
                   variant: r.intoLayout == .nchw ? "to_nchw" : "to_blocked")
    }
}
