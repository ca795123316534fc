import Comm
import Geometry

/// One storage per tensor per rank where it pays: a producer whose output block is one
/// contiguous run of its single consumer's halo'd input writes straight into that input
/// (its buffer is a view of the consumer's), and the halo exchange runs in place, moving
/// only the halo pieces; in backward the producer's gradient is the same view of the
/// consumer's halo'd input gradient, and the reverse halo adds what arrives in place.
/// Without it each exchange copied the rank's whole block (32 MB per convolution of the
/// 1024x1024 stack at 2 ranks) before the interior could start, and backward copied the
/// block back out of the consumer's input ("output recovery").
///
/// A block is one contiguous run of the halo'd rect when every dimension before its first
/// one of size above 1 has size 1 and every later dimension is whole: rows of an H split
/// with batch 1 and one channel block (the conv stack at `-n 2`, 2 rows); then any layer
/// writes it. A 2x2 split's block is one run per row there (an H split of several images,
/// one per image): only a layer that `takesStridedOutput` (ReLU on blocked activations)
/// writes it through a strided view (`StridedRuns`); other producers keep their own
/// buffer and the copies.
extension PlanBuilder {
    /// Where `inner` starts in a row-major buffer storing `outer`, when `inner` is one
    /// contiguous run of it; nil otherwise (or when it is not inside `outer`).
    static func contiguousOffset(of inner: Rect, in outer: Rect) -> Int? {
        guard inner.dimensions == outer.dimensions, !inner.isEmpty, outer.contains(inner) else { return nil }
        let d = inner.dimensions
        let first = (0..<d).first { inner.size[$0] != 1 } ?? (d - 1)
        guard ((first + 1)..<d).allSatisfy({ inner.range($0) == outer.range($0) }) else { return nil }
        return outer.linearIndex(of: inner.origin)
    }

    /// Makes `alias` a view of `base` at its region's place (in storage order), when the
    /// two store the same layout, the view is 64-byte aligned (oneDNN's and Kernels'
    /// vector loops load whole pixels) and it is one contiguous run of `base`, or, with
    /// `strided` (the layer reading and writing it `takesStridedOutput`), runs of whole
    /// pixels of a blocked buffer; `base` then lives as long as both. Returns whether it did.
    mutating func share(_ alias: Int, into base: Int, strided: Bool = false) -> Bool {
        let a = buffers[alias], b = buffers[base]
        guard a.alias == nil, b.alias == nil, a.layout == b.layout, a.region.dimensions == 4 else { return false }
        let inner = a.layout.storageRect(a.region, channels: channelCount(of: a))
        let outer = b.layout.storageRect(b.region, channels: channelCount(of: b))
        guard outer.contains(inner) else { return false }
        let offset = outer.linearIndex(of: inner.origin)
        var runs: StridedRuns?
        if Self.contiguousOffset(of: inner, in: outer) == nil {
            guard strided, case .blocked(let block) = a.layout, let r = StridedRuns(inner: inner, outer: outer),
                  r.length % block == 0, r.strides.allSatisfy({ $0 % 16 == 0 })
            else { return false }
            runs = r
        }
        guard offset % 16 == 0, offset + (runs?.span ?? a.count) <= b.count else { return false }
        buffers[alias].alias = .init(of: base, offset: offset, runs: runs)
        let l = a.lifetime, m = b.lifetime
        buffers[base].lifetime = min(l.lowerBound, m.lowerBound)...max(l.upperBound, m.upperBound)
        return true
    }

    /// The channel count of the tensor a 4-D buffer stores a rect of (for the blocked
    /// storage rect's padding): its rect's end when that is not a whole block.
    private func channelCount(of buffer: ExecutionPlan.Buffer) -> Int {
        buffer.region.range(1).upperBound
    }

    /// `exchange` in place on its target buffer (both storages the target's), for a
    /// source that is now a view of that target: the halo exchange.
    func inPlace(_ exchange: ExecutionPlan.Exchange) -> ExecutionPlan.Exchange {
        var e = exchange
        e.from = e.into
        e.sourceRect = e.targetRect
        e.zeroFirst = false
        return e
    }

    /// `exchange` in place on its source buffer (both storages the source's), for a
    /// target that is now a view of that source: the reverse halo, whose own part is
    /// already in place and counted once.
    func inPlaceGradient(_ exchange: ExecutionPlan.Exchange) -> ExecutionPlan.Exchange {
        var e = exchange
        e.into = e.from
        e.targetRect = e.sourceRect
        e.zeroFirst = false
        return e
    }
}
