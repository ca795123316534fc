import Comm
import Geometry
import TestSupport

/// Random layouts for the planner tests, from a seeded generator: grids with halos
/// (possibly wider than a block, possibly more parts than elements), arbitrary
/// overlapping rects, ranks holding nothing, the whole tensor on one rank, replicated.
enum RandomLayouts {
    static func int(_ range: ClosedRange<Int>, _ rng: inout SplitMix64) -> Int {
        Int.random(in: range, using: &rng)
    }

    /// A random shape: mostly 1 to 4 dimensions of lengths 1 to 6, sometimes 5 to 8
    /// dimensions (untied weights) of lengths 1 to 3.
    static func shape(_ rng: inout SplitMix64) -> [Int] {
        if int(0...5, &rng) == 0 {
            return (0..<int(5...8, &rng)).map { _ in int(1...3, &rng) }
        }
        return (0..<int(1...4, &rng)).map { _ in int(1...6, &rng) }
    }

    /// A random sub-rect of the tensor, sometimes empty.
    static func rect(in shape: [Int], _ rng: inout SplitMix64) -> Rect? {
        if int(0...5, &rng) == 0 { return nil }
        var origin: [Int] = [], size: [Int] = []
        for n in shape {
            let lo = int(0...(n - 1), &rng)
            origin.append(lo)
            size.append(int(1...(n - lo), &rng))
        }
        return Rect(origin: origin, size: size)
    }

    /// A random grid of at most `ranks` parts over the tensor's dimensions.
    static func grid(for shape: [Int], ranks: Int, _ rng: inout SplitMix64) -> ProcessGrid {
        var parts = Array(repeating: 1, count: shape.count)
        var left = ranks
        for _ in 0..<4 {
            let d = int(0...(shape.count - 1), &rng)
            let f = int(1...3, &rng)
            if parts.reduce(1, *) * f <= left { parts[d] *= f }
        }
        left = parts.reduce(1, *)
        precondition(left <= ranks)
        return ProcessGrid(shape: parts)
    }

    /// A random layout over `ranks` ranks of one of the kinds above.
    static func layout(shape: [Int], ranks: Int, _ rng: inout SplitMix64) -> TensorLayout {
        switch int(0...5, &rng) {
        case 0, 1, 2:
            let grid = grid(for: shape, ranks: ranks, &rng)
            let halo = shape.map { _ in int(0...3, &rng) }
            return .blocks(shape: shape, grid: grid, halo: halo, ranks: ranks)
        case 3:
            return TensorLayout(
                shape: shape,
                write: (0..<ranks).map { _ in rect(in: shape, &rng) },
                read: (0..<ranks).map { _ in rect(in: shape, &rng) })
        case 4:
            return .whole(shape: shape, on: int(0...(ranks - 1), &rng), ranks: ranks)
        default:
            return .replicated(shape: shape, ranks: ranks)
        }
    }

    /// A random pair of layouts of one tensor.
    static func pair(_ rng: inout SplitMix64) -> (TensorLayout, TensorLayout) {
        let shape = shape(&rng)
        let ranks = int(1...6, &rng)
        return (layout(shape: shape, ranks: ranks, &rng), layout(shape: shape, ranks: ranks, &rng))
    }
}

/// The value a test writes at a global index: distinct per element, exact in Float
/// even when summed over a few ranks.
func formula(_ point: [Int], shape: [Int]) -> Double {
    Double(Rect(shape: shape).linearIndex(of: point) % 100_003 + 1)
}
