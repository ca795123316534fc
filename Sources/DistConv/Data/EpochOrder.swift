import Kernels

/// The order in which an epoch visits the samples: the same on every rank and for every
/// rank count, because it depends only on (seed, epoch, count).
public enum EpochOrder {
    /// A shuffle of `0 ..< count`, by Fisher–Yates with the swap partner of position `i`
    /// drawn from `CounterRandom` at (seed, epoch, i).
    ///
    /// The partner is the high word of `bits * (i + 1)` (Lemire's multiply-shift); its bias
    /// is below `count / 2^64`, so no draw is rejected and the draw for `i` stays a pure
    /// function of `i`. `count` 0 gives `[]`.
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        precondition(count >= 0, "EpochOrder: count \(count)")
        var order = Array(0..<count)
        // A stream of its own, so that it never coincides with another use of the same
        // seed (dropout draws at stream = step).
        let stream = 0x4550_4F43_4800_0000 ^ UInt64(bitPattern: Int64(epoch))  // "EPOCH"
        var i = count - 1
        while i > 0 {
            let bits = CounterRandom.bits(seed: seed, stream: stream, index: UInt64(i))
            let j = Int(bits.multipliedFullWidth(by: UInt64(i + 1)).high)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}
