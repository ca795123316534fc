/// A run of replicated parameters' gradients, contiguous in the gradient slab, that is
/// allreduced as one message once backward has finished with all of them (DDP's
/// buckets). Parameters are laid out in the order backward completes them, so the first
/// bucket is ready while most of backward is still to run.
struct GradientBucket: Sendable {
    /// Slab elements `offset ..< offset + count`.
    var offset: Int
    var count: Int
    /// The bucket is complete once backward has run the op of this index (the smallest,
    /// i.e. earliest in forward order, of its parameters' ops).
    var readyAfterOp: Int

    /// Buckets of at most `bucketElements` over the slab, from parameters given as
    /// (index, op, slab offset, count) in slab order. A parameter larger than a bucket
    /// spans several: big messages would make MPI allocate temporaries their size.
    static func make(parameters: [(Int, Int, Int, Int)], bucketElements: Int) -> [GradientBucket] {
        guard let last = parameters.last else { return [] }
        let end = last.2 + last.3
        var buckets: [GradientBucket] = []
        var start = 0
        while start < end {
            let stop = min(start + bucketElements, end)
            let ops = parameters.filter { $0.2 < stop && $0.2 + $0.3 > start }.map(\.1)
            buckets.append(GradientBucket(offset: start, count: stop - start, readyAfterOp: ops.min() ?? 0))
            start = stop
        }
        return buckets
    }
}
