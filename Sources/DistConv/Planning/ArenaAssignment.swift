/// Where each request goes: byte offsets into one arena of `size` bytes.
public struct ArenaAssignment: Sendable, Equatable {
    /// Offset of each request, in request order.
    public var offsets: [Int]
    /// Bytes of the arena: the highest end of any buffer.
    public var size: Int
    /// The heuristic that produced it.
    public var strategy: ArenaStrategy
}
