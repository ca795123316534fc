import Comm
import Geometry

/// One tensor of a partition: its global shape and, per rank, what it reads and writes.
public struct TensorPartition: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        case activation, input, parameter, result, gradient, parameterGradient
        /// A kernel's scratch (memory plans only; no tensor of the model).
        case workspace
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

extension TensorPartition {
    /// The layout the redistribution primitive moves data between (Comm's view: shape,
    /// write and read rects per rank).
    public var layout: Comm.TensorLayout { Comm.TensorLayout(shape: dim, write: write, read: read) }
}
