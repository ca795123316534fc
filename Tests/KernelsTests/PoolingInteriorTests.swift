import Geometry
import Kernels
import Testing
import TestSupport

// The pooling loops for windows wholly inside the tensor (PoolingInterior.swift) against
// a naive twin straight from the formula: the same bits, argmax ties to the first
// maximum in row-major window order, NaN and infinities, rows of every width around the
// four-window vectors, shards with a halo and with more input than they read.

/// Naive max and average pooling of one shard: windows clipped to the tensor, visited in
/// row-major order; argmax is the offset in the local input plane (-1 for an empty window).
func naivePool<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, x: [T], max: Bool
) -> (y: [T], argmax: [Int32]) {
    var y: [T] = [], argmax: [Int32] = []
    let inW = s.inputCols.count
    for plane in 0..<(n * g.channels) {
        for oy in s.outputRows {
            for ox in s.outputCols {
                let y0 = oy * g.strideH - g.paddingH, x0 = ox * g.strideW - g.paddingW
                var best: T = 0, sum: T = 0, at = -1
                for iy in Swift.max(y0, 0)..<Swift.max(Swift.max(y0, 0), Swift.min(y0 + g.kernelHeight, g.height)) {
                    for ix in Swift.max(x0, 0)..<Swift.max(Swift.max(x0, 0), Swift.min(x0 + g.kernelWidth, g.width)) {
                        let offset = (iy - s.inputRows.lowerBound) * inW + ix - s.inputCols.lowerBound
                        let v = x[plane * s.inputPlane + offset]
                        sum += v
                        if at < 0 || v > best { best = v; at = offset }
                    }
                }
                if max {
                    y.append(at < 0 ? 0 : best)
                } else {
                    let divisor = g.coverAll ? g.kernelHeight * g.kernelWidth
                        : (Swift.min(y0 + g.kernelHeight, g.height + g.paddingH) - y0)
                            * (Swift.min(x0 + g.kernelWidth, g.width + g.paddingW) - x0)
                    y.append(sum / T(divisor))
                }
                argmax.append(Int32(at))
            }
        }
    }
    return (y, argmax)
}

/// Equal bits, or both NaN.
func sameValues<T: GEMMScalar>(_ a: [T], _ b: [T]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}

/// Values from a small set so windows tie often; a few NaN and infinities.
func tiedValues<T: GEMMScalar>(_ count: Int, _ rng: inout SplitMix64, specials: Bool) -> [T] {
    (0..<count).map { _ in
        let r = Int(rng.next() % 64)
        if specials && r == 0 { return T.nan }
        if specials && r == 1 { return T.infinity }
        if specials && r == 2 { return -T.infinity }
        return T(r % 5) - 2
    }
}

struct InteriorPoolCase: CustomStringConvertible, Sendable {
    var h: Int, w: Int, k: Int, s: Int
    var p = 0
    var description: String { "\(h)x\(w) k\(k) s\(s) p\(p)" }
}

/// 2x2/2 rows of 1 to 9 windows (below, at and past one vector of four; overlapped ends),
/// odd sizes that leave an input row and column outside every window, a 3x3/3 and an
/// overlapping 2x2/1 (the scalar loops), and padding that only some shards' windows reach.
let interiorPoolCases: [InteriorPoolCase] = [
    InteriorPoolCase(h: 2, w: 2, k: 2, s: 2), InteriorPoolCase(h: 4, w: 6, k: 2, s: 2),
    InteriorPoolCase(h: 6, w: 8, k: 2, s: 2), InteriorPoolCase(h: 5, w: 11, k: 2, s: 2),
    InteriorPoolCase(h: 8, w: 14, k: 2, s: 2), InteriorPoolCase(h: 7, w: 16, k: 2, s: 2),
    InteriorPoolCase(h: 4, w: 19, k: 2, s: 2), InteriorPoolCase(h: 28, w: 28, k: 2, s: 2),
    InteriorPoolCase(h: 9, w: 10, k: 3, s: 3), InteriorPoolCase(h: 6, w: 7, k: 2, s: 1),
    InteriorPoolCase(h: 12, w: 12, k: 3, s: 2, p: 1),
]

@Suite struct PoolingInteriorTests {
    @Test(arguments: interiorPoolCases)
    func maxPoolMatchesTheNaiveTwinBitwise(_ pc: InteriorPoolCase) throws {
        try check(pc, Float.self)
        try check(pc, Double.self)
    }

    func check<T: GEMMScalar>(_ pc: InteriorPoolCase, _: T.Type) throws {
        let n = 2, c = 3
        let g = try Pool2DGeometry(channels: c, height: pc.h, width: pc.w, kernel: pc.k, stride: pc.s, padding: pc.p)
        var rng = SplitMix64(seed: 71)
        let xShape = [n, c, pc.h, pc.w], yShape = [n, c, g.outputHeight, g.outputWidth]
        let x: [T] = tiedValues(xShape.reduce(1, *), &rng, specials: true)
        let dy: [T] = tiedValues(yShape.reduce(1, *), &rng, specials: false)
        var shards = [g.wholeShard]
        for grid in shardGrids + [ProcessGrid(shape: [1, 1, 1, 3])] {
            for r in 0..<grid.count {
                let out = grid.block(of: Rect(shape: yShape), rank: r)
                let inp = inputRect(for: out, batch: n, channels: c, height: pc.h, width: pc.w,
                                    kernel: (pc.k, pc.k), stride: (pc.s, pc.s), padding: (pc.p, pc.p))
                shards.append(SpatialShard(input: inp, output: out))
                // The whole input, wider than the shard reads: its windows start off the origin.
                shards.append(SpatialShard(inputRows: 0..<pc.h, inputCols: 0..<pc.w,
                                           outputRows: out.range(2), outputCols: out.range(3)))
            }
        }
        for s in shards where s.outputPlane > 0 {
            let inRect = Rect(origin: [0, 0, s.inputRows.lowerBound, s.inputCols.lowerBound],
                              size: [n, c, s.inputRows.count, s.inputCols.count])
            let outRect = Rect(origin: [0, 0, s.outputRows.lowerBound, s.outputCols.lowerBound],
                               size: [n, c, s.outputRows.count, s.outputCols.count])
            let xl = extract(x, shape: xShape, rect: inRect), dyl = extract(dy, shape: yShape, rect: outRect)
            let run = PoolRun<T>(g: g, s: s, n: n, max: true)
            let got = run.forward(xl), want = naivePool(g, s, batch: n, x: xl, max: true)
            #expect(sameValues(got.y, want.y), "\(pc) \(T.self) shard \(s): max values differ")
            #expect(got.argmax == want.argmax, "\(pc) \(T.self) shard \(s): argmax differs")
            // Backward routes dy to exactly those inputs.
            var dx = [T](repeating: 0, count: xl.count)
            for (o, at) in want.argmax.enumerated() where at >= 0 {
                dx[o / s.outputPlane * s.inputPlane + Int(at)] += dyl[o]
            }
            #expect(run.backward(xl, dy: dyl) == dx, "\(pc) \(T.self) shard \(s): max backward differs")

            let finite = xl.map { $0.isFinite ? $0 : 1 }
            let avg = PoolRun<T>(g: g, s: s, n: n, max: false)
            #expect(avg.forward(finite).y == naivePool(g, s, batch: n, x: finite, max: false).y,
                    "\(pc) \(T.self) shard \(s): average differs")
        }
    }

    /// The first maximum wins: all-equal windows point at their top-left input, a NaN
    /// first input stays (nothing compares greater), a later NaN never wins.
    @Test func tiesAndNaN() throws {
        let g = try Pool2DGeometry(channels: 1, height: 2, width: 10, kernel: 2, stride: 2)
        let nan = Float.nan
        // Windows (top row pair, bottom row pair): equal; NaN first; NaN later; max bottom-right; -inf only.
        let top: [Float] = [1, 1, nan, 5, 2, nan, 0, 0, -.infinity, -.infinity]
        let bottom: [Float] = [1, 1, 7, 9, 2, 2, 0, 3, -.infinity, -.infinity]
        let run = PoolRun<Float>(g: g, s: g.wholeShard, n: 1, max: true)
        let got = run.forward(top + bottom)
        #expect(got.argmax == [0, 2, 4, 17, 8], "argmax \(got.argmax)")
        #expect(got.y[0] == 1 && got.y[1].isNaN && got.y[2] == 2 && got.y[3] == 3 && got.y[4] == -.infinity, "y \(got.y)")
    }
}
