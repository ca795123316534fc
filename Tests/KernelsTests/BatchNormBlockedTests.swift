import Kernels
import Testing
import TestSupport

// The blocked-layout batch norm against BatchNorm.swift's kernels in Double on the same
// values in NCHW, channel counts that fill a block, leave one partly padding, and span
// two blocks.

struct BNBlockedCase: CustomStringConvertible, Sendable {
    var layout: ActivationLayout
    var c: Int
    var description: String { "C\(c) in \(layout)" }
}

let bnBlockedCases: [BNBlockedCase] = [ActivationLayout.blocked(8), .blocked(16), .nchw].flatMap { l in
    [5, 16, 20].map { BNBlockedCase(layout: l, c: $0) }
}

@Suite struct BatchNormBlockedTests {
    @Test(arguments: bnBlockedCases)
    func matchesTheNCHWKernelsInDouble(_ bc: BNBlockedCase) {
        let n = 3, c = bc.c, h = 5, w = 9, p = h * w, l = bc.layout
        var rng = SplitMix64(seed: 17)
        // An offset mean, so a one-pass variance would lose digits.
        let x: [Float] = randomValues(n * c * p, &rng).map { $0 * 2 + 3 }
        let dy: [Float] = randomValues(x.count, &rng)
        let gamma: [Float] = randomValues(c, &rng), beta: [Float] = randomValues(c, &rng)
        let rm0: [Float] = randomValues(c, &rng), rv0: [Float] = randomValues(c, &rng).map { $0 + 2 }
        let g0: [Float] = randomValues(c, &rng), b0: [Float] = randomValues(c, &rng)
        let eps = 1e-5, momentum = 0.1

        // Reference: Double, NCHW.
        var rmD = toDouble(rm0), rvD = toDouble(rv0), yD = [Double](repeating: 0, count: x.count)
        var smD = [Double](repeating: 0, count: c), sisD = smD, dxD = yD, dgD = toDouble(g0), dbD = toDouble(b0)
        var momD = [BatchNormMoments](repeating: .init(), count: c), sumsD = [Double](repeating: 0, count: 2 * c + 1)
        let xD = toDouble(x), dyD = toDouble(dy), gD = toDouble(gamma), bD = toDouble(beta)
        batchnorm_forward_train(batch: n, channels: c, plane: p, x: xD.ub, gamma: gD.ub, beta: bD.ub, epsilon: eps, momentum: momentum,
                                runningMean: rmD.umb, runningVar: rvD.umb, y: yD.umb, savedMean: smD.umb, savedInvStd: sisD.umb,
                                moments: momD.umb, reducer: .local)
        batchnorm_backward_train(batch: n, channels: c, plane: p, x: xD.ub, dy: dyD.ub, gamma: gD.ub, savedMean: smD.ub,
                                 savedInvStd: sisD.ub, dx: dxD.umb, dgamma: dgD.umb, dbeta: dbD.umb, sums: sumsD.umb, reducer: .local)
        var yeD = yD, dxeD = dxD, dgeD = toDouble(g0), dbeD = toDouble(b0)
        batchnorm_forward_eval(batch: n, channels: c, plane: p, x: xD.ub, gamma: gD.ub, beta: bD.ub, epsilon: eps,
                               runningMean: rmD.ub, runningVar: rvD.ub, y: yeD.umb)
        batchnorm_backward_eval(batch: n, channels: c, plane: p, x: xD.ub, dy: dyD.ub, gamma: gD.ub, epsilon: eps,
                                runningMean: rmD.ub, runningVar: rvD.ub, dx: dxeD.umb, dgamma: dgeD.umb, dbeta: dbeD.umb)

        // Blocked, Float.
        let xb = toLayout(x, n: n, c: c, h: h, w: w, l), dyb = toLayout(dy, n: n, c: c, h: h, w: w, l)
        var rm = rm0, rv = rv0, y = [Float](repeating: .nan, count: xb.count), sm = [Float](repeating: 0, count: c), sis = sm
        var dx = y, dg = g0, db = b0, mom = momD, sums = sumsD
        batchnorm_forward_train(layout: l, batch: n, channels: c, plane: p, x: xb.ub, gamma: gamma.ub, beta: beta.ub, epsilon: eps,
                                momentum: momentum, runningMean: rm.umb, runningVar: rv.umb, y: y.umb, savedMean: sm.umb,
                                savedInvStd: sis.umb, moments: mom.umb, reducer: .local)
        batchnorm_backward_train(layout: l, batch: n, channels: c, plane: p, x: xb.ub, dy: dyb.ub, gamma: gamma.ub, savedMean: sm.ub,
                                 savedInvStd: sis.ub, dx: dx.umb, dgamma: dg.umb, dbeta: db.umb, sums: sums.umb, reducer: .local)
        var ye = y, dxe = dx, dge = g0, dbe = b0
        batchnorm_forward_eval(layout: l, batch: n, channels: c, plane: p, x: xb.ub, gamma: gamma.ub, beta: beta.ub, epsilon: eps,
                               runningMean: rm.ub, runningVar: rv.ub, y: ye.umb)
        batchnorm_backward_eval(layout: l, batch: n, channels: c, plane: p, x: xb.ub, dy: dyb.ub, gamma: gamma.ub, epsilon: eps,
                                runningMean: rm.ub, runningVar: rv.ub, dx: dxe.umb, dgamma: dge.umb, dbeta: dbe.umb)

        let checks: [(String, [Float], [Double])] = [
            ("y", fromLayout(y, n: n, c: c, h: h, w: w, l), yD), ("dx", fromLayout(dx, n: n, c: c, h: h, w: w, l), dxD),
            ("saved mean", sm, smD), ("saved 1/std", sis, sisD), ("running mean", rm, rmD), ("running var", rv, rvD),
            ("dgamma", dg, dgD), ("dbeta", db, dbD),
            ("eval y", fromLayout(ye, n: n, c: c, h: h, w: w, l), yeD), ("eval dx", fromLayout(dxe, n: n, c: c, h: h, w: w, l), dxeD),
            ("eval dgamma", dge, dgeD), ("eval dbeta", dbe, dbeD),
        ]
        for (name, got, want) in checks {
            #expect(relativeError(got, want) <= 1e-5, "\(bc) \(name): \(relativeError(got, want))")
        }
        for (name, v) in [("y", y), ("dx", dx), ("eval y", ye), ("eval dx", dxe)] {
            #expect(paddedChannelValues(v, n: n, c: c, h: h, w: w, l).allSatisfy { $0 == 0 }, "\(bc) \(name) padding")
        }
    }
}

extension Array {
    /// Pointers valid for the array's lifetime in a test (arrays here are not resized).
    var ub: UnsafeBufferPointer<Element> { withUnsafeBufferPointer { $0 } }
    var umb: UnsafeMutableBufferPointer<Element> {
        mutating get { withUnsafeMutableBufferPointer { $0 } }
    }
}
