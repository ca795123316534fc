import Geometry

/// How one tensor is spread over the ranks: per rank, the region it writes and the region
/// it reads, in global coordinates (DESIGN.md §2).
///
/// `write[r]` is what rank `r` owns and computes; `read[r]` is what it needs, usually its
/// owned block plus a halo. A rank that holds nothing has empty rects. Write rects of
/// different ranks may overlap — a replicated tensor, or partial sums that every rank
/// writes whole — and the redistribution mode says what that means (see
/// `RedistributionMode`).
///
/// Tensors may have any number of dimensions (NCHW activations, 8-D untied weights).
public struct TensorLayout: Hashable, Sendable {
    /// The global shape.
    public let shape: [Int]
    /// Per rank, the region it writes. Empty for a rank that writes nothing.
    public let write: [Rect]
    /// Per rank, the region it reads. Empty for a rank that reads nothing.
    public let read: [Rect]

    /// A layout from per-rank rects; `nil` (or any empty rect) means the rank holds
    /// nothing there, stored as the canonical empty rect so that equal layouts hash equal.
    ///
    /// - Precondition: the tensor has at least one dimension (a scalar is shape `[1]`: a
    ///   rank-0 rect cannot be empty, so "holds nothing" could not be said); one write and
    ///   one read rect per rank, each of the tensor's rank and inside the tensor.
    public init(shape: [Int], write: [Rect?], read: [Rect?]) {
        precondition(!shape.isEmpty, "a layout needs at least one dimension; give a scalar shape [1]")
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor shape \(shape) has a negative length")
        precondition(
            write.count == read.count,
            "layout has \(write.count) write rects but \(read.count) read rects")
        let whole = Rect(shape: shape)
        func normalized(_ rect: Rect?, _ kind: String, _ r: Int) -> Rect {
            guard let rect, !rect.isEmpty else { return Rect.empty(dimensions: shape.count) }
            precondition(
                rect.dimensions == shape.count,
                "\(kind) rect \(rect) of rank \(r) has \(rect.dimensions) dimensions, tensor \(shape) has \(shape.count)")
            precondition(whole.contains(rect), "\(kind) rect \(rect) of rank \(r) leaves tensor \(shape)")
            return rect
        }
        self.shape = shape
        self.write = write.enumerated().map { normalized($1, "write", $0) }
        self.read = read.enumerated().map { normalized($1, "read", $0) }
    }

    /// A layout in which every rank reads exactly what it writes.
    public init(shape: [Int], rects: [Rect?]) {
        self.init(shape: shape, write: rects, read: rects)
    }

    /// Number of ranks the layout describes.
    public var ranks: Int { write.count }

    /// The region a rank's local buffer covers by default: the bounding box of what it
    /// writes and reads (its read rect when, as usual, that contains the write rect).
    /// Empty for a rank that holds nothing.
    public func storage(rank r: Int) -> Rect {
        precondition(r >= 0 && r < ranks, "rank \(r) outside layout of \(ranks) ranks")
        return Rect.bounding([write[r], read[r]]) ?? Rect.empty(dimensions: shape.count)
    }
}
