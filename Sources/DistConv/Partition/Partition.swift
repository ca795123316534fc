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
    public internal(set) var tensors: [TensorLayout]
    /// Every op in execution order: forward, gradient zeroing, backward, updates.
    public internal(set) var ops: [OpLayout]
    var tensorIndex: [String: Int] = [:]

    public func tensor(_ name: String) -> TensorLayout {
        guard let i = tensorIndex[name] else { preconditionFailure("partition of \(model.name) has no tensor \(name)") }
        return tensors[i]
    }

    public func hasTensor(_ name: String) -> Bool { tensorIndex[name] != nil }

    public func op(_ name: String) -> OpLayout {
        guard let o = ops.first(where: { $0.name == name }) else { preconditionFailure("partition of \(model.name) has no op \(name)") }
        return o
    }
}

/// One tensor's layout: its global shape and, per rank, what it reads and writes.
public struct TensorLayout: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        case activation, input, parameter, result, gradient, parameterGradient
    }
    public var name: String
    public var dim: [Int]
    public var role: Role
    /// Per rank, the region it needs (owned plus halo); nil where it reads nothing.
    public var read: [Rect?]
    /// Per rank, the region it computes; nil for parameters, which forward ops only read.
    public var write: [Rect?]
    /// True when ranks write overlapping partial sums that readers must add up (the output
    /// of a linear layer over a split input).
    public var isPartialSum: Bool

    /// The region rank `r` stores: its read and write rects together. A loaded input
    /// (images, labels) is written whole by the loader on every rank, but a rank loads
    /// and stores only the part it reads.
    public func storage(rank r: Int) -> Rect? {
        if role == .input { return read[r] ?? write[r] }
        switch (read[r], write[r]) {
        case let (a?, b?): return a.union(b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        case (nil, nil): return nil
        }
    }
}

/// One op's partition: its result's global shape and, per rank, the regions of its
/// input, filters and result it works on.
public struct OpLayout: Sendable, Equatable {
    public enum Phase: Sendable, Equatable { case forward, zeroGradient, backward, update }
    public var name: String
    public var phase: Phase
    /// The forward op a gradient op belongs to.
    public var forwardOp: String?
    public var resultDim: [Int]
    /// Per rank, the input region the op reads; nil when the op has no input.
    public var distInput: [Rect]?
    /// Per rank, the part of the weights it needs; nil when it has none.
    public var distFilters: [Rect]?
    /// Per rank, the block of the result it computes.
    public var distResult: [Rect]
    /// Tensors read and written, with per-rank regions.
    public var reads: [Access]
    public var writes: [Access]

    public struct Access: Sendable, Equatable {
        public var tensor: String
        public var rects: [Rect]
    }
}
