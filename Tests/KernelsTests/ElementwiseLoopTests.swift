import Kernels
import Testing
import TestSupport

// The pointer loops of the elementwise kernels and the bias gradient's partial sums
// against the formulas, elementwise: every length around the vector widths, the values
// where a comparison decides (NaN, signed zeros, infinities).

@Suite struct ElementwiseLoopTests {
    static let specials: [Float] = [.nan, -0.0, 0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .infinity, -.infinity, 1, -1]

    @Test(arguments: [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33])
    func reluMatchesTheFormula(_ count: Int) {
        var rng = SplitMix64(seed: UInt64(81 + count))
        let x: [Float] = (0..<count).map { i in i % 3 == 0 ? Self.specials[i / 3 % Self.specials.count] : Float(Double.random(in: -1..<1, using: &rng)) }
        let dy: [Float] = randomValues(count, &rng)
        let y = mapKernel(x) { relu_forward(x: $0, y: $1) }
        let dx = mapBackward(x, dy) { relu_backward(x: $0, dy: $1, dx: $2) }
        for i in 0..<count {
            // max(x, 0) with NaN and -0 giving +0; the gradient passes where x > 0 only.
            let want: Float = x[i] > 0 ? x[i] : 0
            #expect(y[i].bitPattern == want.bitPattern, "relu(\(x[i])) = \(y[i])")
            #expect(dx[i].bitPattern == (x[i] > 0 ? dy[i] : 0).bitPattern, "relu'(\(x[i])) * \(dy[i]) = \(dx[i])")
        }
        let xd = x.map(Double.init), dyd = dy.map(Double.init)
        let dxd = mapBackward(xd, dyd) { relu_backward(x: $0, dy: $1, dx: $2) }
        #expect(zip(dxd, dx).allSatisfy { $0 == Double($1) }, "Double relu backward differs from Float")
    }

    @Test(arguments: [1, 2, 7, 8, 9, 15, 16, 17, 49, 196])
    func biasGradientSumsEveryPlane(_ plane: Int) {
        var rng = SplitMix64(seed: UInt64(91 + plane))
        let n = 3, f = 2
        let dy: [Double] = randomValues(n * f * plane, &rng)
        var db: [Double] = [0.5, -0.25]   // adds into what is there
        db.withUnsafeMutableBufferPointer { p in dy.withUnsafeBufferPointer { conv2d_backward_bias(batch: n, channels: f, plane: plane, dy: $0, dbias: p) } }
        var want: [Double] = [0.5, -0.25]
        for (i, v) in dy.enumerated() { want[i / plane % f] += v }
        assertClose(db, want, rtol: 1e-14, atol: 1e-14, "dbias at plane \(plane)")
        let dyf = toFloat(dy)
        var dbf: [Float] = [0.5, -0.25]
        dbf.withUnsafeMutableBufferPointer { p in dyf.withUnsafeBufferPointer { conv2d_backward_bias(batch: n, channels: f, plane: plane, dy: $0, dbias: p) } }
        assertClose(dbf, want, rtol: 1e-5, atol: 1e-5, "Float dbias at plane \(plane)")
    }

    @Test func affineMatchesTheFormula() {
        var rng = SplitMix64(seed: 95)
        let n = 3, m = 13
        let x: [Float] = randomValues(n * m, &rng), b: [Float] = randomValues(m, &rng), dy: [Float] = randomValues(n * m, &rng)
        let a: Float = 0.75
        #expect(affine(batch: n, x: x, a: a, b: b) == (0..<(n * m)).map { a * x[$0] + b[$0 % m] })
        let g = affineBackward(batch: n, x: x, a: a, dy: dy)
        #expect(g.dx == dy.map { a * $0 })
        var db = [Float](repeating: 0, count: m), da: Float = 0
        for i in 0..<(n * m) { db[i % m] += dy[i]; da += dy[i] * x[i] }
        #expect(g.db == db && g.da == da, "db \(g.db) vs \(db), da \(g.da) vs \(da)")
    }
}
