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

    /// Buckets of about `bucketElements`, from parameters given as (index, op, slab
    /// offset, count) in slab order.
    static func make(parameters: [(Int, Int, Int, Int)], bucketElements: Int) -> [GradientBucket] {
        var buckets: [GradientBucket] = []
        var current: GradientBucket?
        for (_, op, offset, count) in parameters {
            if var c = current {
                c.count = offset + count - c.offset
                c.readyAfterOp = min(c.readyAfterOp, op)
                current = c
            } else {
                current = GradientBucket(offset: offset, count: count, readyAfterOp: op)
            }
            if let c = current, c.count >= bucketElements {
                buckets.append(c)
                current = nil
            }
        }
        if let c = current { buckets.append(c) }
        return buckets
    }
}
