/// An N-dimensional half-open box in global coordinates: the points `p` with
/// `origin[i] <= p[i] < origin[i] + size[i]` for every dimension `i`.
///
/// A rect whose size is zero (or negative) in any dimension is empty; an empty rect is a
/// valid value, the result of intersecting disjoint rects. Sizes are never stored
/// negative: the initialiser clamps them to zero.
///
/// This is `Rect(array([o0, o1, ...]), array([s0, s1, ...]))` of the reference partition
/// dump, whose format `description` reproduces.
public struct Rect: Hashable, Sendable {
    public var origin: [Int]
    public var size: [Int]

    /// A rect from its origin and size; negative sizes become zero.
    public init(origin: [Int], size: [Int]) {
        precondition(
            origin.count == size.count,
            "Rect origin \(origin) and size \(size) differ in rank")
        self.origin = origin
        self.size = size.map { max(0, $0) }
    }

    /// The whole of a tensor of the given shape: origin zero, size `shape`.
    public init(shape: [Int]) {
        self.init(origin: Array(repeating: 0, count: shape.count), size: shape)
    }

    /// The empty rect of `dimensions` dimensions, at the origin.
    public static func empty(dimensions: Int) -> Rect {
        Rect(origin: Array(repeating: 0, count: dimensions), size: Array(repeating: 0, count: dimensions))
    }

    /// Number of dimensions (not an MPI rank: ranks are processes everywhere else).
    public var dimensions: Int { origin.count }

    /// One past the last coordinate, per dimension.
    public var end: [Int] { zip(origin, size).map { $0 + $1 } }

    /// True when the rect holds no point.
    public var isEmpty: Bool { size.contains { $0 <= 0 } }

    /// Number of points; zero when empty. A 0-dimensional rect holds one point.
    public var volume: Int { size.reduce(1, *) }

    /// The half-open range of dimension `d`.
    public func range(_ d: Int) -> Range<Int> { origin[d]..<(origin[d] + size[d]) }
}

extension Rect {
    /// The rect of the given half-open range per dimension.
    public init(ranges: [Range<Int>]) {
        self.init(origin: ranges.map(\.lowerBound), size: ranges.map(\.count))
    }
}
