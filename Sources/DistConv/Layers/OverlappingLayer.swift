import Geometry

/// A layer whose forward can run while the halo exchange of its input is in flight: most
/// of the work before the halo arrives, the strips that read it after (the runtime's
/// overlap, `Network.overlap`). The split is the layer's: it knows its windows.
protocol OverlappingLayer: ShardLayer {
    /// The output strips (global rows and columns of the output block) to compute once
    /// the halo is in, given `own`, this rank's block of the input (local when the
    /// exchange starts); nil when this shard cannot overlap (no interior, reference
    /// kernels).
    func overlapStrips(own: Rect) -> [(rows: Range<Int>, cols: Range<Int>)]?
    /// Whether `strips`, computed by this shard's `kernels` after the whole block, give
    /// the bits of the whole block computed on the fresh halo: overlap must not change the
    /// numbers, so the runtime overlaps only where this holds.
    func stripsKeepTheBits(_ strips: [(rows: Range<Int>, cols: Range<Int>)], kernels: AnyObject) -> Bool
    /// Forward while the halo is in flight: may read the halo cells, whose outputs the
    /// strips recompute.
    func forwardBeforeHalo<T: RuntimeScalar>(_ io: LayerIO<T>)
    func forwardStrip<T: RuntimeScalar>(_ io: LayerIO<T>, rows: Range<Int>, cols: Range<Int>)
}

/// A layer whose backward can run beside the reverse halo of its input gradient: the
/// input gradient first (what the exchange sends), then the parameter gradients while
/// the exchange is in flight. The two write disjoint buffers, so the order changes no bits.
protocol OverlappingBackward: ShardLayer {
    func backwardInput<T: RuntimeScalar>(_ io: LayerIO<T>)
    func backwardParameters<T: RuntimeScalar>(_ io: LayerIO<T>)
}
