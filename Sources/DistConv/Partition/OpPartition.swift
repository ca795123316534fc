import Geometry

/// One op's partition: its result's global shape and, per rank, the regions of its
/// input, filters and result it works on.
public struct OpPartition: Sendable, Equatable {
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
