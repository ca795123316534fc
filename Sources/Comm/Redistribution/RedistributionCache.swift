import Geometry

/// Redistributions built once per layout pair and reused every step (DESIGN.md §2).
///
/// Keyed by both layouts, the mode and the storage rects; the same request returns the
/// same `Redistribution`, with its compiled plan and scratch buffers. Not thread-safe:
/// one cache per training loop.
public final class RedistributionCache {
    private struct Key: Hashable {
        let source: TensorLayout
        let target: TensorLayout
        let mode: RedistributionMode
        let sourceStorage: Rect?
        let targetStorage: Rect?
    }

    public let communicator: Communicator
    private var entries: [Key: Redistribution] = [:]

    public init(communicator: Communicator) {
        self.communicator = communicator
    }

    /// Number of distinct redistributions built so far.
    public var count: Int { entries.count }

    /// The redistribution from `source` to `target`, built on first request (see
    /// `Redistribution.init` for the parameters).
    public func redistribution(
        from source: TensorLayout, to target: TensorLayout, mode: RedistributionMode,
        sourceStorage: Rect? = nil, targetStorage: Rect? = nil
    ) -> Redistribution {
        let key = Key(
            source: source, target: target, mode: mode,
            sourceStorage: sourceStorage, targetStorage: targetStorage)
        if let hit = entries[key] { return hit }
        let made = Redistribution(
            from: source, to: target, mode: mode, communicator: communicator,
            sourceStorage: sourceStorage, targetStorage: targetStorage)
        entries[key] = made
        return made
    }

    /// Halo exchange of a layout, in place on buffers storing each rank's read rect:
    /// owners' values copied into their neighbours' halos.
    public func haloExchange(_ layout: TensorLayout) -> Redistribution {
        redistribution(from: layout, to: layout, mode: .copy)
    }

    /// Reverse halo exchange of a layout's gradient, in place: every rank's gradient in
    /// its halo is summed into the owner's region.
    public func reverseHaloExchange(_ layout: TensorLayout) -> Redistribution {
        redistribution(from: layout.mirrored, to: layout.mirrored, mode: .accumulate)
    }
}
