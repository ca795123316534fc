import Geometry
import Kernels
import Testing
import TestSupport

/// Batch norm in training mode on arrays, with fresh running statistics (0 and 1).
struct BNRun<T: GEMMScalar> {
    let n: Int, c: Int, p: Int
    var reducer = BatchNormReducer.local
    let eps = 1e-5, momentum = 0.1

    func forward(x: [T], gamma: [T], beta: [T]) -> (y: [T], mean: [T], invStd: [T], runMean: [T], runVar: [T]) {
        var y = [T](repeating: 0, count: x.count), mean = [T](repeating: 0, count: c), inv = [T](repeating: 0, count: c)
        var rm = [T](repeating: 0, count: c), rv = [T](repeating: 1, count: c)
        var moments = [BatchNormMoments](repeating: BatchNormMoments(), count: c)
        x.withUnsafeBufferPointer { xp in gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
            rm.withUnsafeMutableBufferPointer { rmp in rv.withUnsafeMutableBufferPointer { rvp in
                y.withUnsafeMutableBufferPointer { yp in mean.withUnsafeMutableBufferPointer { mp in inv.withUnsafeMutableBufferPointer { ip in
                    moments.withUnsafeMutableBufferPointer { wsp in
                        batchnorm_forward_train(batch: n, channels: c, plane: p, x: xp, gamma: gp, beta: bp, epsilon: eps,
                                                momentum: momentum, runningMean: rmp, runningVar: rvp, y: yp, savedMean: mp,
                                                savedInvStd: ip, moments: wsp, reducer: reducer)
                    }
                } } }
            } }
        } } }
        return (y, mean, inv, rm, rv)
    }

    func backward(x: [T], gamma: [T], mean: [T], invStd: [T], dy: [T]) -> (dx: [T], dgamma: [T], dbeta: [T]) {
        var dx = [T](repeating: 0, count: x.count), dg = [T](repeating: 0, count: c), db = [T](repeating: 0, count: c)
        var sums = [Double](repeating: 0, count: batchnorm_sums_count(channels: c))
        x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dyp in gamma.withUnsafeBufferPointer { gp in
            mean.withUnsafeBufferPointer { mp in invStd.withUnsafeBufferPointer { ip in
                dx.withUnsafeMutableBufferPointer { dxp in dg.withUnsafeMutableBufferPointer { dgp in db.withUnsafeMutableBufferPointer { dbp in
                    sums.withUnsafeMutableBufferPointer { sp in
                        batchnorm_backward_train(batch: n, channels: c, plane: p, x: xp, dy: dyp, gamma: gp, savedMean: mp,
                                                 savedInvStd: ip, dx: dxp, dgamma: dgp, dbeta: dbp, sums: sp, reducer: reducer)
                    }
                } } }
            } }
        } } }
        return (dx, dg, db)
    }

    func eval(x: [T], gamma: [T], beta: [T], rm: [T], rv: [T], dy: [T]) -> (y: [T], dx: [T], dgamma: [T], dbeta: [T]) {
        var y = [T](repeating: 0, count: x.count), dx = y, dg = [T](repeating: 0, count: c), db = dg
        x.withUnsafeBufferPointer { xp in gamma.withUnsafeBufferPointer { gp in rm.withUnsafeBufferPointer { rmp in rv.withUnsafeBufferPointer { rvp in
            y.withUnsafeMutableBufferPointer { yp in
                beta.withUnsafeBufferPointer {
                    batchnorm_forward_eval(batch: n, channels: c, plane: p, x: xp, gamma: gp, beta: $0, epsilon: eps,
                                           runningMean: rmp, runningVar: rvp, y: yp)
                }
            }
            dy.withUnsafeBufferPointer { dyp in dx.withUnsafeMutableBufferPointer { dxp in dg.withUnsafeMutableBufferPointer { dgp in
                db.withUnsafeMutableBufferPointer {
                    batchnorm_backward_eval(batch: n, channels: c, plane: p, x: xp, dy: dyp, gamma: gp, epsilon: eps,
                                            runningMean: rmp, runningVar: rvp, dx: dxp, dgamma: dgp, dbeta: $0)
                }
            } } }
        } } } }
        return (y, dx, dg, db)
    }
}

@Suite struct BatchNormTests {
    @Test func trainingGradientsMatchCentralDifferences() {
        let run = BNRun<Double>(n: 3, c: 2, p: 3 * 5)
        var rng = SplitMix64(seed: 51)
        let x: [Double] = randomValues(3 * 2 * 15, &rng).map { 2 * $0 + 0.5 }
        let gamma: [Double] = randomValues(2, &rng), beta: [Double] = randomValues(2, &rng), r: [Double] = randomValues(x.count, &rng)
        let f = run.forward(x: x, gamma: gamma, beta: beta)
        let a = run.backward(x: x, gamma: gamma, mean: f.mean, invStd: f.invStd, dy: r)
        let nx = numericGradient(x) { dot(r, run.forward(x: $0, gamma: gamma, beta: beta).y) }
        let ng = numericGradient(gamma) { dot(r, run.forward(x: x, gamma: $0, beta: beta).y) }
        let nb = numericGradient(beta) { dot(r, run.forward(x: x, gamma: gamma, beta: $0).y) }
        expectGradient("batchnorm train dx", analytic: a.dx, numeric: nx, bound: doubleGradientBound)
        expectGradient("batchnorm train dgamma", analytic: a.dgamma, numeric: ng, bound: doubleGradientBound)
        expectGradient("batchnorm train dbeta", analytic: a.dbeta, numeric: nb, bound: doubleGradientBound)
        let fr = BNRun<Float>(n: 3, c: 2, p: 15)
        let ff = fr.forward(x: toFloat(x), gamma: toFloat(gamma), beta: toFloat(beta))
        let fa = fr.backward(x: toFloat(x), gamma: toFloat(gamma), mean: ff.mean, invStd: ff.invStd, dy: toFloat(r))
        expectGradient("batchnorm train dx (Float)", analytic: fa.dx, numeric: nx, bound: floatGradientBound)
        expectGradient("batchnorm train dgamma (Float)", analytic: fa.dgamma, numeric: ng, bound: floatGradientBound)

        // Running statistics, PyTorch's rule: biased variance normalizes, unbiased updates.
        for ch in 0..<2 {
            var values: [Double] = []
            for img in 0..<3 {
                let start: Int = (img * 2 + ch) * 15
                values += x[start..<(start + 15)]
            }
            let mean: Double = values.reduce(0, +) / 45
            var squares = 0.0
            for v in values { squares += (v - mean) * (v - mean) }
            let unbiased = squares / 44
            #expect(abs(f.runMean[ch] - 0.1 * mean) < 1e-12)
            #expect(abs(f.runVar[ch] - (0.9 + 0.1 * unbiased)) < 1e-12)
        }
    }

    @Test func evalGradientsMatchCentralDifferences() {
        let run = BNRun<Double>(n: 2, c: 3, p: 7)
        var rng = SplitMix64(seed: 52)
        let x: [Double] = randomValues(42, &rng), gamma: [Double] = randomValues(3, &rng), beta: [Double] = randomValues(3, &rng)
        let rm: [Double] = randomValues(3, &rng), rv: [Double] = randomValues(3, &rng).map { $0 + 1.5 }, r: [Double] = randomValues(42, &rng)
        let a = run.eval(x: x, gamma: gamma, beta: beta, rm: rm, rv: rv, dy: r)
        expectGradient("batchnorm eval dx", analytic: a.dx,
                       numeric: numericGradient(x) { dot(r, run.eval(x: $0, gamma: gamma, beta: beta, rm: rm, rv: rv, dy: r).y) },
                       bound: doubleGradientBound)
        expectGradient("batchnorm eval dgamma", analytic: a.dgamma,
                       numeric: numericGradient(gamma) { dot(r, run.eval(x: x, gamma: $0, beta: beta, rm: rm, rv: rv, dy: r).y) },
                       bound: doubleGradientBound)
        expectGradient("batchnorm eval dbeta", analytic: a.dbeta,
                       numeric: numericGradient(beta) { dot(r, run.eval(x: x, gamma: gamma, beta: $0, rm: rm, rv: rv, dy: r).y) },
                       bound: doubleGradientBound)
    }

    /// Shards over space and batch, their statistics merged through the reducer as the
    /// distributed layer would (here: precomputed over all shards, in rank order).
    @Test(arguments: shardGrids + [ProcessGrid(shape: [3, 1, 1, 1])])
    func shardsMatchTheWholeBatch(_ grid: ProcessGrid) {
        let shape = [4, 2, 7, 5], c = 2
        var rng = SplitMix64(seed: 53)
        let x: [Float] = randomValues(shape.reduce(1, *), &rng).map { $0 * 3 + 1 }
        let gamma: [Float] = randomValues(c, &rng), beta: [Float] = randomValues(c, &rng), dy: [Float] = randomValues(x.count, &rng)
        let whole = BNRun<Float>(n: 4, c: c, p: 35)
        let wf = whole.forward(x: x, gamma: gamma, beta: beta)
        let wb = whole.backward(x: x, gamma: gamma, mean: wf.mean, invStd: wf.invStd, dy: dy)

        let rects = (0..<grid.count).map { grid.block(of: Rect(shape: shape), rank: $0) }
        let xs = rects.map { extract(x, shape: shape, rect: $0) }, dys = rects.map { extract(dy, shape: shape, rect: $0) }
        // Phase 1 of each collective: every shard's local contribution.
        var merged = [BatchNormMoments](repeating: BatchNormMoments(), count: c)
        for (r, xl) in zip(rects, xs) {
            var m = [BatchNormMoments](repeating: BatchNormMoments(), count: c)
            xl.withUnsafeBufferPointer { xp in m.withUnsafeMutableBufferPointer {
                batchnorm_local_moments(batch: r.size[0], channels: c, plane: r.size[2] * r.size[3], x: xp, moments: $0)
            } }
            for ch in 0..<c { merged[ch] = .merged(merged[ch], m[ch]) }
        }
        var total = [Double](repeating: 0, count: batchnorm_sums_count(channels: c))
        for (i, r) in rects.enumerated() {
            var s = total.map { _ in 0.0 }
            xs[i].withUnsafeBufferPointer { xp in dys[i].withUnsafeBufferPointer { dyp in wf.mean.withUnsafeBufferPointer { mp in
                wf.invStd.withUnsafeBufferPointer { ip in s.withUnsafeMutableBufferPointer {
                    batchnorm_local_sums(batch: r.size[0], channels: c, plane: r.size[2] * r.size[3], x: xp, dy: dyp,
                                         savedMean: mp, savedInvStd: ip, sums: $0)
                } }
            } } }
            for j in total.indices { total[j] += s[j] }
        }
        let reducer = BatchNormReducer(
            moments: { for ch in 0..<c { $0[ch] = merged[ch] } },
            sum: { for j in $0.indices { $0[j] = total[j] } })
        var yA = [Float](repeating: .nan, count: x.count), dxA = yA
        var dg = [Float](repeating: 0, count: c), db = dg
        for (i, r) in rects.enumerated() {
            let run = BNRun<Float>(n: r.size[0], c: c, p: r.size[2] * r.size[3], reducer: reducer)
            let f = run.forward(x: xs[i], gamma: gamma, beta: beta)
            #expect(relativeError(f.mean, wf.mean) <= 1e-6 && relativeError(f.invStd, wf.invStd) <= 1e-6)
            #expect(relativeError(f.runVar, wf.runVar) <= 1e-6)
            putBlock(f.y, into: &yA, shape: shape, rect: r)
            let b = run.backward(x: xs[i], gamma: gamma, mean: f.mean, invStd: f.invStd, dy: dys[i])
            putBlock(b.dx, into: &dxA, shape: shape, rect: r)
            for ch in 0..<c { dg[ch] += b.dgamma[ch]; db[ch] += b.dbeta[ch] }
        }
        #expect(relativeError(yA, wf.y) <= 1e-5 && relativeError(dxA, wb.dx) <= 1e-5)
        #expect(relativeError(dg, wb.dgamma) <= 1e-5 && relativeError(db, wb.dbeta) <= 1e-5)
        print("batchnorm shards \(grid): y \(relativeError(yA, wf.y)), dx \(relativeError(dxA, wb.dx)), dgamma \(relativeError(dg, wb.dgamma)), dbeta \(relativeError(db, wb.dbeta))")
    }

    /// Values 1e8 + u: sum-of-squares formulas lose every digit; merged M2 keeps them.
    @Test func mergedMomentsAreStableForLargeOffsets() {
        var rng = SplitMix64(seed: 54)
        let values: [Double] = randomValues(3000, &rng).map { 1e8 + $0 }
        let mean = values.reduce(0, +) / 3000
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3000
        var merged = BatchNormMoments()
        for part in stride(from: 0, to: 3000, by: 700) {
            let chunk = Array(values[part..<min(part + 700, 3000)])
            var m = [BatchNormMoments(count: 0, mean: 0, m2: 0)]
            chunk.withUnsafeBufferPointer { xp in m.withUnsafeMutableBufferPointer {
                batchnorm_local_moments(batch: 1, channels: 1, plane: chunk.count, x: xp, moments: $0)
            } }
            merged = .merged(merged, m[0])
        }
        #expect(merged.count == 3000)
        #expect(abs(merged.m2 / 3000 - variance) / variance < 1e-7, "variance \(merged.m2 / 3000) vs \(variance)")
        // What the merge avoids: E[x^2] - E[x]^2 in Double is off by far more.
        var sumSquares = 0.0
        for v in values { sumSquares += v * v }
        let naive = sumSquares / 3000 - mean * mean
        #expect(abs(naive - variance) / variance > 1e-3, "naive variance \(naive) unexpectedly accurate")
    }
}
