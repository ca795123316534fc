import Geometry

/// One rank's messages for moving a tensor from layout `A` to layout `B` (DESIGN.md §2):
/// rank `r` obtains `B.read[r] ∩ A.write[q]` from every rank `q`, and sends the mirror
/// image. Pure: rects in, rects out, no MPI.
///
/// Every rank computes its own plan from the same two layouts; rank `r`'s send to `p`
/// holds the same rects, in the same order, as `p`'s receive from `r`, because both are
/// `pieces(reader: p, writer: r)`. Which pieces those are depends on the mode:
/// - `.copy`: each element comes from one writer (the reader itself, else the lowest
///   writer), so where write rects overlap a rect is split into disjoint pieces;
/// - `.accumulate`: every writer sends its whole overlap, to be summed.
///
/// Nothing here knows "left" or "right": halos of any width, corners, uneven splits and
/// arbitrary layout changes are all the same rule.
public struct RedistributionPlan: Hashable, Sendable {
    /// A message: the rects exchanged with one peer, packed one after another, each
    /// row-major.
    public struct Transfer: Hashable, Sendable {
        public let peer: Int
        public let rects: [Rect]
        /// Number of elements in the message.
        public var count: Int { rects.reduce(0) { $0 + $1.volume } }
    }

    /// The rank this plan is for.
    public let rank: Int
    public let mode: RedistributionMode
    /// The tensor's global shape.
    public let shape: [Int]
    /// What this rank writes in the source layout (`A.write[rank]`).
    public let source: Rect
    /// What this rank reads in the target layout (`B.read[rank]`).
    public let target: Rect
    /// Messages to other ranks, by ascending peer; peers with nothing to send are left out.
    public let sends: [Transfer]
    /// Messages from other ranks, by ascending peer; peers with nothing to send are left out.
    public let receives: [Transfer]
    /// Parts of `target` this rank takes from its own `source`, disjoint.
    public let localCopies: [Rect]

    /// The plan of `rank` for moving a tensor from `source`'s write rects to `target`'s
    /// read rects.
    ///
    /// - Precondition: the layouts describe the same shape and number of ranks, and `rank`
    ///   is one of them.
    public init(from source: TensorLayout, to target: TensorLayout, rank: Int, mode: RedistributionMode) {
        precondition(
            source.shape == target.shape,
            "redistributing a tensor of shape \(source.shape) into shape \(target.shape)")
        precondition(
            source.ranks == target.ranks,
            "source layout over \(source.ranks) ranks, target over \(target.ranks)")
        precondition(rank >= 0 && rank < source.ranks, "rank \(rank) outside 0..<\(source.ranks)")
        let writes = source.write, reads = target.read
        func pieces(reader: Int, writer: Int) -> [Rect] {
            RedistributionPlan.pieces(writes: writes, reads: reads, mode: mode, reader: reader, writer: writer)
        }
        var sends: [Transfer] = []
        var receives: [Transfer] = []
        for peer in 0..<source.ranks where peer != rank {
            let out = pieces(reader: peer, writer: rank)
            if !out.isEmpty { sends.append(Transfer(peer: peer, rects: out)) }
            let into = pieces(reader: rank, writer: peer)
            if !into.isEmpty { receives.append(Transfer(peer: peer, rects: into)) }
        }
        self.rank = rank
        self.mode = mode
        self.shape = source.shape
        self.source = writes[rank]
        self.target = reads[rank]
        self.sends = sends
        self.receives = receives
        self.localCopies = pieces(reader: rank, writer: rank)
    }

    /// The disjoint rects `writer` contributes to `reader`'s read rect.
    ///
    /// Copy mode takes an element from the reader itself when it writes it, else from the
    /// lowest writer; so the writer's overlap loses what the reader and every lower writer
    /// also write. Accumulate mode keeps the whole overlap.
    static func pieces(
        writes: [Rect], reads: [Rect], mode: RedistributionMode, reader: Int, writer: Int
    ) -> [Rect] {
        let overlap = reads[reader].intersection(writes[writer])
        if overlap.isEmpty { return [] }
        guard mode == .copy, writer != reader else { return [overlap] }
        var pieces = [overlap].subtracting(writes[reader])
        for lower in 0..<writer where lower != reader {
            if pieces.isEmpty { break }
            pieces = pieces.subtracting(writes[lower])
        }
        return pieces
    }

    /// Elements this rank sends in all, and receives in all.
    public var sendCount: Int { sends.reduce(0) { $0 + $1.count } }
    public var receiveCount: Int { receives.reduce(0) { $0 + $1.count } }
}
