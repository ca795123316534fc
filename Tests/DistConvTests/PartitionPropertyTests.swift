import DistConv
import Foundation
import Geometry
import Testing
import TestSupport

/// Random chains of windowed ops on random grids, checked against brute force: the
/// input region of every op on every rank is exactly the bounding box of the input
/// points its output block touches, and the blocks of every output tile it.
@Suite struct PartitionPropertyTests {
    /// A random grid over NCHW with `ranks` parts in all, no part longer than the dimension.
    func randomGrid(ranks: Int, shape: [Int], using g: inout SplitMix64) -> [Int]? {
        for _ in 0..<20 {
            var grid = [1, 1, 1, 1]
            var rest = ranks
            for f in [2, 3, 5] {
                while rest % f == 0 {
                    grid[[0, 2, 3].randomElement(using: &g)!] *= f
                    rest /= f
                }
            }
            if rest == 1 && zip(grid, shape).allSatisfy({ $0 <= $1 }) { return grid }
        }
        return nil
    }

    /// Input rows/columns touched by output rows `out` of a window, brute force.
    func touched(_ out: Range<Int>, k: Int, s: Int, p: Int, d: Int, n: Int) -> Range<Int> {
        var lo = Int.max, hi = Int.min
        for o in out { for j in 0..<k { let i = o * s - p + j * d; if i >= 0 && i < n { lo = min(lo, i); hi = max(hi, i) } } }
        return lo <= hi ? lo..<(hi + 1) : 0..<0
    }

    @Test func windowedChainsMatchBruteForce() throws {
        var g = SplitMix64(seed: 42)
        var checked = 0
        for trial in 0..<150 {
            let ranks = [1, 2, 3, 4, 6].randomElement(using: &g)!
            var shape = [Int.random(in: 1...6, using: &g), Int.random(in: 1...4, using: &g),
                         Int.random(in: 6...20, using: &g), Int.random(in: 6...20, using: &g)]
            guard let dataGrid = randomGrid(ranks: ranks, shape: shape, using: &g) else { continue }
            var ops = [ModelFile.OpEntry(name: "data", type: "data", grid: dataGrid)]
            ops[0].shape = shape
            ops[0].classes = 3
            var windows: [(k: [Int], s: [Int], p: [Int], d: [Int])] = []
            for i in 0..<Int.random(in: 1...3, using: &g) {
                let conv = Bool.random(using: &g)
                let k = [Int.random(in: 1...4, using: &g), Int.random(in: 1...4, using: &g)]
                let s = [Int.random(in: 1...2, using: &g), Int.random(in: 1...2, using: &g)]
                let p = conv ? [Int.random(in: 0...2, using: &g), Int.random(in: 0...2, using: &g)] : [0, 0]
                let d = conv ? [Int.random(in: 1...2, using: &g), Int.random(in: 1...2, using: &g)] : [1, 1]
                let out = (0..<2).map { windowOutputLength(inputLength: shape[2 + $0], kernel: k[$0], stride: s[$0], padding: p[$0], dilation: d[$0]) }
                guard out.allSatisfy({ $0 >= 2 }) else { break }
                let outShape = [shape[0], conv ? 3 : shape[1], out[0], out[1]]
                guard let grid = randomGrid(ranks: ranks, shape: outShape, using: &g) else { break }
                var e = ModelFile.OpEntry(name: "op\(i)", type: conv ? "conv2d" : "max_pool", grid: grid)
                e.kernel = k
                e.stride = s
                e.padding = p
                if conv { e.outChannels = 3; e.dilation = d }
                ops.append(e)
                windows.append((k, s, p, d))
                shape = outShape
            }
            guard ops.count > 1 else { continue }
            let model = try Model(file: ModelFile(name: "random\(trial)", ops: ops), source: "random")
            let partition = try Partition(model: model, ranks: ranks)
            for (i, w) in windows.enumerated() {
                let op = model.ops[i + 1]
                let layout = partition.op(op.name)
                var blocks: [Rect] = []
                for r in 0..<ranks {
                    let result = layout.distResult[r]
                    blocks.append(result)
                    let input = layout.distInput![r]
                    let h = touched(result.range(2), k: w.k[0], s: w.s[0], p: w.p[0], d: w.d[0], n: op.inputShape[2])
                    let wr = touched(result.range(3), k: w.k[1], s: w.s[1], p: w.p[1], d: w.d[1], n: op.inputShape[3])
                    #expect(input.range(0) == result.range(0))
                    #expect(input.range(2) == h || (h.isEmpty && input.size[2] == 0), "\(op.name) rank \(r) rows")
                    #expect(input.range(3) == wr || (wr.isEmpty && input.size[3] == 0), "\(op.name) rank \(r) cols")
                    // The producer's tensor is stored wherever this op reads it.
                    #expect(partition.tensor(op.input!).storage(rank: r)?.contains(input) == true)
                    checked += 1
                }
                let pointCount = blocks.map(\.volume).reduce(0, +)
                #expect(pointCount == Rect(shape: op.outputShape).volume)
                for (a, x) in blocks.enumerated() { for y in blocks[(a + 1)...] { #expect(!x.intersects(y)) } }
            }
        }
        #expect(checked > 200)
    }
}
