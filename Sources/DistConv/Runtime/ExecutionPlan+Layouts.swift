import Geometry
import Kernels

extension PlanBuilder {
    /// The layout op `i` takes its input in and the layout it stores its main output in.
    /// A layer that takes the stored layout reads it as it is; one that takes only NCHW
    /// gets a reorder first (the only place a layout changes).
    func layouts(_ i: Int, _ op: Op) -> (input: ActivationLayout, output: ActivationLayout) {
        let stored = op.input.flatMap { storedLayout[$0] } ?? .nchw
        let preferred = kernels.layout
        guard case .blocked = preferred, op.outputs.count == 1 else { return (.nchw, .nchw) }
        switch op.kind.layerType.layouts(of: op) {
        case .nchw:
            return (.nchw, .nchw)
        case .preserving:
            guard stored != .nchw, canStore(op.outputs[0], stored) else { return (.nchw, .nchw) }
            return (stored, stored)
        case .blocking:
            return (stored, canStore(op.outputs[0], preferred) ? preferred : .nchw)
        }
    }

    /// True when `tensor` can be stored in `layout` on every rank: 4-D, every write rect
    /// and every reader's input rect whole channel blocks (a channel split that is not
    /// block-aligned keeps the tensor NCHW), not partial sums, and read by at most one op
    /// (the gradient's reorder back then has a single writer).
    func canStore(_ tensor: String, _ layout: ActivationLayout) -> Bool {
        let t = partition.tensor(tensor)
        guard t.dim.count == 4, !t.isPartialSum else { return false }
        let consumers = model.ops.indices.filter { model.ops[$0].input == tensor }
        guard consumers.count <= 1 else { return false }
        let c = t.dim[1]
        let reads = consumers.flatMap { forward[$0].distInput ?? [] }
        return (writeRects(tensor) + reads).allSatisfy { layout.holdsWholeBlocks($0, channels: c) }
    }
}
