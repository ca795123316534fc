/// One buffer to place in an arena: its size in bytes and the steps it lives, both ends
/// included (written at the first, last read at the last). Two requests whose lifetimes
/// share a step must not share bytes; a buffer may reuse bytes freed at an earlier step.
public struct ArenaRequest: Sendable, Equatable {
    public var size: Int
    public var lifetime: ClosedRange<Int>

    public init(size: Int, lifetime: ClosedRange<Int>) {
        precondition(size >= 0 && lifetime.lowerBound >= 0, "arena request of \(size) bytes over steps \(lifetime)")
        self.size = size
        self.lifetime = lifetime
    }

    public func overlaps(_ other: ArenaRequest) -> Bool { lifetime.overlaps(other.lifetime) }
}

/// Where each request goes: byte offsets into one arena of `size` bytes.
public struct ArenaAssignment: Sendable, Equatable {
    /// Offset of each request, in request order.
    public var offsets: [Int]
    /// Bytes of the arena: the highest end of any buffer.
    public var size: Int
    /// The heuristic that produced it.
    public var strategy: ArenaStrategy
}

/// Heuristics for the offset-assignment (dynamic storage allocation) problem, which is
/// NP-hard; each is within a few percent of the lower bound on layer chains.
public enum ArenaStrategy: String, Sendable, CaseIterable, Equatable {
    /// Sekiyama et al. 2018 ("Profile-guided memory optimization for deep neural
    /// networks"), after Burke et al.'s best-fit strip packing: fill the lowest gap of
    /// the skyline with the longest-lived block that fits in it (then the largest).
    case bestFit = "best-fit"
    /// Largest first, each into the smallest gap left by the buffers it overlaps in time.
    case greedyBySize = "greedy-by-size"
    /// Both, keeping the smaller arena (best-fit on a tie).
    case best
}
