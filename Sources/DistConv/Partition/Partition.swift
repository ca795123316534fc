import Geometry

/// What every rank holds of every tensor and computes of every op, for one model on a
/// given number of ranks (DESIGN.md §3). Rect arrays are indexed by rank.
///
/// Names follow the reference dump: gradients are `<tensor>.grad` written by `<op>.grad`,
/// zeroed by `<tensor>.grad.set_zero`; parameters are updated by `update_<parameter>`.
public struct Partition: Sendable {
    public let model: Model
    public let ranks: Int
    /// Every tensor, forward and backward, in the order a dump lists them.
    public internal(set) var tensors: [TensorPartition]
    /// Every op in execution order: forward, gradient zeroing, backward, updates.
    public internal(set) var ops: [OpPartition]
    var tensorIndex: [String: Int] = [:]

    public func tensor(_ name: String) -> TensorPartition {
        guard let i = tensorIndex[name] else { preconditionFailure("partition of \(model.name) has no tensor \(name)") }
        return tensors[i]
    }

    public func hasTensor(_ name: String) -> Bool { tensorIndex[name] != nil }

    public func op(_ name: String) -> OpPartition {
        guard let o = ops.first(where: { $0.name == name }) else { preconditionFailure("partition of \(model.name) has no op \(name)") }
        return o
    }
}
