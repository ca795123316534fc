import Geometry
import Kernels
import Testing
import TestSupport

/// Applies an unsafe-buffer kernel `(x, y)` to arrays.
func mapKernel<T: GEMMScalar>(_ x: [T], _ body: (UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<T>) -> Void) -> [T] {
    var y = [T](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { body(xp, $0) } }
    return y
}

/// Applies a backward kernel `(saved, dy, dx)` to arrays.
func mapBackward<T: GEMMScalar>(
    _ saved: [T], _ dy: [T], _ body: (UnsafeBufferPointer<T>, UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<T>) -> Void
) -> [T] {
    var dx = [T](repeating: 0, count: saved.count)
    saved.withUnsafeBufferPointer { s in dy.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer { body(s, d, $0) } } }
    return dx
}

func affine<T: GEMMScalar>(batch n: Int, x: [T], a: T, b: [T]) -> [T] {
    mapKernel(x) { xp, yp in b.withUnsafeBufferPointer { affine_forward(batch: n, x: xp, a: a, b: $0, y: yp) } }
}

func affineBackward<T: GEMMScalar>(batch n: Int, x: [T], a: T, dy: [T]) -> (dx: [T], da: T, db: [T]) {
    var da: T = 0
    var db = [T](repeating: 0, count: x.count / n)
    let dx = mapBackward(x, dy) { xp, dyp, dxp in
        db.withUnsafeMutableBufferPointer { affine_backward(batch: n, x: xp, a: a, dy: dyp, dx: dxp, da: &da, db: $0) }
    }
    return (dx, da, db)
}

@Suite struct ElementwiseTests {
    @Test func affineGradientsMatchCentralDifferences() {
        var rng = SplitMix64(seed: 61)
        let n = 3, m = 2 * 3 * 5
        let x: [Double] = randomValues(n * m, &rng), b: [Double] = randomValues(m, &rng), r: [Double] = randomValues(n * m, &rng)
        let a = 0.7
        let g = affineBackward(batch: n, x: x, a: a, dy: r)
        expectGradient("affine dx", analytic: g.dx, numeric: numericGradient(x) { dot(r, affine(batch: n, x: $0, a: a, b: b)) }, bound: doubleGradientBound)
        expectGradient("affine da", analytic: [g.da], numeric: numericGradient([a]) { dot(r, affine(batch: n, x: x, a: $0[0], b: b)) }, bound: doubleGradientBound)
        expectGradient("affine db", analytic: g.db, numeric: numericGradient(b) { dot(r, affine(batch: n, x: x, a: a, b: $0)) }, bound: doubleGradientBound)
        let fg = affineBackward(batch: n, x: toFloat(x), a: Float(a), dy: toFloat(r))
        expectGradient("affine da (Float)", analytic: [fg.da], numeric: numericGradient([a]) { dot(r, affine(batch: n, x: x, a: $0[0], b: b)) }, bound: floatGradientBound)
    }

    @Test func activationGradientsMatchCentralDifferences() {
        var rng = SplitMix64(seed: 62)
        let x: [Double] = randomValues(40, &rng).map { 3 * $0 }, r: [Double] = randomValues(40, &rng)
        let relu = mapBackward(x, r) { relu_backward(x: $0, dy: $1, dx: $2) }
        expectGradient("relu dx", analytic: relu, numeric: numericGradient(x) { dot(r, mapKernel($0) { relu_forward(x: $0, y: $1) }) }, bound: doubleGradientBound)
        let th = mapBackward(mapKernel(x) { tanh_forward(x: $0, y: $1) }, r) { tanh_backward(y: $0, dy: $1, dx: $2) }
        expectGradient("tanh dx", analytic: th, numeric: numericGradient(x) { dot(r, mapKernel($0) { tanh_forward(x: $0, y: $1) }) }, bound: doubleGradientBound)
        let sg = mapBackward(mapKernel(x) { sigmoid_forward(x: $0, y: $1) }, r) { sigmoid_backward(y: $0, dy: $1, dx: $2) }
        let nsg = numericGradient(x) { dot(r, mapKernel($0) { sigmoid_forward(x: $0, y: $1) }) }
        expectGradient("sigmoid dx", analytic: sg, numeric: nsg, bound: doubleGradientBound)
        let xf = toFloat(x), rf = toFloat(r)
        let sgf = mapBackward(mapKernel(xf) { sigmoid_forward(x: $0, y: $1) }, rf) { sigmoid_backward(y: $0, dy: $1, dx: $2) }
        expectGradient("sigmoid dx (Float)", analytic: sgf, numeric: nsg, bound: floatGradientBound)
        // No overflow at large |x|.
        let far: [Float] = [-1e4, -100, 100, 1e4]
        let s = mapKernel(far) { sigmoid_forward(x: $0, y: $1) }
        #expect(s[0] == 0 && s[1] > 0 && s[1] < Float.leastNormalMagnitude && s[2] == 1 && s[3] == 1, "sigmoid at \(far): \(s)")
        #expect(mapKernel(far) { tanh_forward(x: $0, y: $1) } == [-1, -1, 1, 1])
    }

    /// Affine on shards: each shard holds its block of x and of the untied bias b.
    @Test(arguments: shardGrids)
    func affineShardsMatchTheWhole(_ grid: ProcessGrid) {
        let shape = [2, 3, 7, 5], bShape = [1, 3, 7, 5]
        var rng = SplitMix64(seed: 63)
        let x: [Float] = randomValues(shape.reduce(1, *), &rng), b: [Float] = randomValues(bShape.reduce(1, *), &rng)
        let dy: [Float] = randomValues(x.count, &rng)
        let a: Float = -1.3
        let y = affine(batch: 2, x: x, a: a, b: b), g = affineBackward(batch: 2, x: x, a: a, dy: dy)
        var yA = [Float](repeating: .nan, count: y.count), dxA = yA, dbA = [Float](repeating: .nan, count: b.count)
        var da: Float = 0
        for rank in 0..<grid.count {
            let r = grid.block(of: Rect(shape: shape), rank: rank)
            let br = Rect(origin: [0] + r.origin.dropFirst(), size: [1] + r.size.dropFirst())
            let xl = extract(x, shape: shape, rect: r), bl = extract(b, shape: bShape, rect: br)
            putBlock(affine(batch: 2, x: xl, a: a, b: bl), into: &yA, shape: shape, rect: r)
            let gl = affineBackward(batch: 2, x: xl, a: a, dy: extract(dy, shape: shape, rect: r))
            putBlock(gl.dx, into: &dxA, shape: shape, rect: r)
            putBlock(gl.db, into: &dbA, shape: bShape, rect: br)
            da += gl.da
            let relu = mapKernel(xl) { relu_forward(x: $0, y: $1) }
            #expect(relu == extract(mapKernel(x) { relu_forward(x: $0, y: $1) }, shape: shape, rect: r))
        }
        #expect(yA == y && dxA == g.dx && dbA == g.db, "affine shards not bitwise equal")
        #expect(abs(da - g.da) <= 1e-5 * abs(g.da), "da \(da) vs \(g.da)")
    }
}
