import Geometry
import Kernels
import Testing
import TestSupport

struct LinearRun<T: GEMMScalar> {
    let n: Int, k: Int, m: Int

    func forward(x: [T], w: [T], b: [T]?) -> [T] {
        var y = [T](repeating: 0, count: n * m)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            if let b {
                b.withUnsafeBufferPointer { linear_forward(batch: n, inFeatures: k, outFeatures: m, x: xp, weight: wp, bias: $0, y: yp) }
            } else {
                linear_forward(batch: n, inFeatures: k, outFeatures: m, x: xp, weight: wp, bias: nil, y: yp)
            }
        } } }
        return y
    }

    func backward(x: [T], w: [T], dy: [T]) -> (dx: [T], dw: [T], db: [T]) {
        var dx = [T](repeating: 0, count: x.count), dw = [T](repeating: 0, count: w.count), db = [T](repeating: 0, count: m)
        dy.withUnsafeBufferPointer { dyp in
            w.withUnsafeBufferPointer { wp in dx.withUnsafeMutableBufferPointer { linear_backward_data(batch: n, inFeatures: k, outFeatures: m, dy: dyp, weight: wp, dx: $0) } }
            x.withUnsafeBufferPointer { xp in dw.withUnsafeMutableBufferPointer { linear_backward_filter(batch: n, inFeatures: k, outFeatures: m, x: xp, dy: dyp, dweight: $0) } }
            db.withUnsafeMutableBufferPointer { linear_backward_bias(batch: n, outFeatures: m, dy: dyp, dbias: $0) }
        }
        return (dx, dw, db)
    }
}

@Suite struct LinearTests {
    /// The naive twin: y[i, j] = b[j] + sum_k x[i, k] w[j, k], and its gradients by loops.
    @Test func matchesNaiveTwin() {
        let n = 4, k = 9, m = 5
        var rng = SplitMix64(seed: 80)
        let x: [Double] = randomValues(n * k, &rng), w: [Double] = randomValues(m * k, &rng)
        let b: [Double] = randomValues(m, &rng), dy: [Double] = randomValues(n * m, &rng)
        var y = [Double](repeating: 0, count: n * m), dx = [Double](repeating: 0, count: n * k)
        var dw = [Double](repeating: 0, count: m * k), db = [Double](repeating: 0, count: m)
        for i in 0..<n {
            for j in 0..<m {
                y[i * m + j] = b[j]
                db[j] += dy[i * m + j]
                for kk in 0..<k {
                    y[i * m + j] += x[i * k + kk] * w[j * k + kk]
                    dx[i * k + kk] += dy[i * m + j] * w[j * k + kk]
                    dw[j * k + kk] += dy[i * m + j] * x[i * k + kk]
                }
            }
        }
        let run = LinearRun<Double>(n: n, k: k, m: m)
        assertClose(run.forward(x: x, w: w, b: b), y, rtol: 1e-12, atol: 1e-12, "forward")
        let g = run.backward(x: x, w: w, dy: dy)
        assertClose(g.dx, dx, rtol: 1e-12, atol: 1e-12, "dx")
        assertClose(g.dw, dw, rtol: 1e-12, atol: 1e-12, "dW")
        assertClose(g.db, db, rtol: 1e-12, atol: 1e-12, "db")
    }

    @Test func gradientsMatchCentralDifferences() {
        let run = LinearRun<Double>(n: 3, k: 2 * 3 * 5, m: 7)
        var rng = SplitMix64(seed: 81)
        let x: [Double] = randomValues(3 * 30, &rng), w: [Double] = randomValues(7 * 30, &rng)
        let b: [Double] = randomValues(7, &rng), r: [Double] = randomValues(21, &rng)
        let a = run.backward(x: x, w: w, dy: r)
        expectGradient("linear dx", analytic: a.dx, numeric: numericGradient(x) { dot(r, run.forward(x: $0, w: w, b: b)) }, bound: doubleGradientBound)
        let nw = numericGradient(w) { dot(r, run.forward(x: x, w: $0, b: b)) }
        expectGradient("linear dW", analytic: a.dw, numeric: nw, bound: doubleGradientBound)
        expectGradient("linear db", analytic: a.db, numeric: numericGradient(b) { dot(r, run.forward(x: x, w: w, b: $0)) }, bound: doubleGradientBound)
        let fa = LinearRun<Float>(n: 3, k: 30, m: 7).backward(x: toFloat(x), w: toFloat(w), dy: toFloat(r))
        expectGradient("linear dW (Float)", analytic: fa.dw, numeric: nw, bound: floatGradientBound)
    }

    /// Flatten + linear on a spatially split input: partial products over each shard's
    /// block with the matching block of the weights [M, C, H, W], summed, bias once.
    @Test(arguments: shardGrids)
    func partialProductsSumToTheWhole(_ grid: ProcessGrid) {
        let n = 3, m = 5, shape = [n, 2, 7, 5], wShape = [m, 2, 7, 5], k = 2 * 7 * 5
        var rng = SplitMix64(seed: 82)
        let x: [Float] = randomValues(shape.reduce(1, *), &rng), w: [Float] = randomValues(wShape.reduce(1, *), &rng)
        let b: [Float] = randomValues(m, &rng), dy: [Float] = randomValues(n * m, &rng)
        let whole = LinearRun<Float>(n: n, k: k, m: m)
        let y = whole.forward(x: x, w: w, b: b), g = whole.backward(x: x, w: w, dy: dy)
        var ySum = [Float](repeating: 0, count: n * m), dxA = [Float](repeating: .nan, count: x.count), dwA = [Float](repeating: .nan, count: w.count)
        for rank in 0..<grid.count {
            let r = grid.block(of: Rect(shape: shape), rank: rank)
            let wr = Rect(origin: [0] + r.origin.dropFirst(), size: [m] + r.size.dropFirst())
            let kb = r.volume / n
            let run = LinearRun<Float>(n: n, k: kb, m: m)
            let xl = extract(x, shape: shape, rect: r), wl = extract(w, shape: wShape, rect: wr)
            let part = run.forward(x: xl, w: wl, b: rank == 0 ? b : nil)
            for i in ySum.indices { ySum[i] += part[i] }
            let gl = run.backward(x: xl, w: wl, dy: dy)
            putBlock(gl.dx, into: &dxA, shape: shape, rect: r)
            putBlock(gl.dw, into: &dwA, shape: wShape, rect: wr)
        }
        #expect(relativeError(ySum, y) <= 1e-5, "y: \(relativeError(ySum, y))")
        #expect(relativeError(dxA, g.dx) <= 1e-5 && relativeError(dwA, g.dw) <= 1e-5)
        print("linear shards \(grid): y \(relativeError(ySum, y)), dx \(relativeError(dxA, g.dx)), dW \(relativeError(dwA, g.dw))")
    }
}
