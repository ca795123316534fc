import Geometry
import Kernels

/// How a logical NCHW rect of an activation is stored, for the plan: its element count
/// and the box a redistribution moves.
///
/// A blocked layout `.blocked(b)` stores `[N, C, H, W]` as `[N, ceil(C/b), H, W, b]`; a
/// rect whose channels start on a block boundary (`c0 % b == 0`, checked by the plan)
/// stores blocks `c0/b ..< ceil(c1/b)` whole, padded channels included, so a halo row is
/// a run of `b`-channel pixels and a channel split moves whole blocks.
extension ActivationLayout {
    /// Elements of storage for `rect` (its volume for NCHW and for non-4-D rects).
    func storedCount(_ rect: Rect) -> Int {
        guard case .blocked(let b) = self, rect.dimensions == 4 else { return rect.volume }
        if rect.isEmpty { return 0 }
        let c = rect.range(1)
        let blocks = (c.upperBound + b - 1) / b - c.lowerBound / b
        return rect.size[0] * blocks * b * rect.size[2] * rect.size[3]
    }

    /// The global shape redistributions see: `[N, ceil(C/b), H, W, b]` for a blocked
    /// 4-D tensor, `shape` otherwise.
    func storageShape(_ shape: [Int]) -> [Int] {
        guard case .blocked(let b) = self, shape.count == 4 else { return shape }
        return [shape[0], (shape[1] + b - 1) / b, shape[2], shape[3], b]
    }

    /// `rect` of a tensor with `channels` channels in the coordinates of `storageShape`.
    func storageRect(_ rect: Rect, channels: Int) -> Rect {
        guard case .blocked(let b) = self, rect.dimensions == 4 else { return rect }
        if rect.isEmpty { return Rect.empty(dimensions: 5) }
        let c = rect.range(1)
        precondition(c.lowerBound % b == 0 && (c.upperBound % b == 0 || c.upperBound == channels),
                     "channels \(c) of \(channels) are not whole blocks of \(b)")
        return Rect(ranges: [rect.range(0), (c.lowerBound / b)..<((c.upperBound + b - 1) / b), rect.range(2),
                             rect.range(3), 0..<b])
    }

    /// True when `rect`'s channels are whole blocks of a tensor of `channels` channels
    /// (the last block may be partial, padded).
    func holdsWholeBlocks(_ rect: Rect, channels: Int) -> Bool {
        guard case .blocked(let b) = self, rect.dimensions == 4, !rect.isEmpty else { return true }
        let c = rect.range(1)
        return c.lowerBound % b == 0 && (c.upperBound % b == 0 || c.upperBound == channels)
    }
}
