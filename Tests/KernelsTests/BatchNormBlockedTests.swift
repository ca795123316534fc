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
        let zerosD = [Double](repeating: 0, count: x.count), cZerosD = [Double](repeating: 0, count: c)
        let rmD = TestBuffer(toDouble(rm0)), rvD = TestBuffer(toDouble(rv0)), yD = TestBuffer(zerosD)
        let smD = TestBuffer(cZerosD), sisD = TestBuffer(cZerosD), dxD = TestBuffer(zerosD)
        let dgD = TestBuffer(toDouble(g0)), dbD = TestBuffer(toDouble(b0))
        let momD = TestBuffer([BatchNormMoments](repeating: .init(), count: c))
        let sumsD = TestBuffer([Double](repeating: 0, count: 2 * c + 1))
        let xD = TestBuffer(toDouble(x)), dyD = TestBuffer(toDouble(dy)), gD = TestBuffer(toDouble(gamma)), bD = TestBuffer(toDouble(beta))
        batchnorm_forward_train(batch: n, channels: c, plane: p, x: xD.ub, gamma: gD.ub, beta: bD.ub, epsilon: eps, momentum: momentum,
                                runningMean: rmD.umb, runningVar: rvD.umb, y: yD.umb, savedMean: smD.umb, savedInvStd: sisD.umb,
                                moments: momD.umb, reducer: .local)
        batchnorm_backward_train(batch: n, channels: c, plane: p, x: xD.ub, dy: dyD.ub, gamma: gD.ub, savedMean: smD.ub,
                                 savedInvStd: sisD.ub, dx: dxD.umb, dgamma: dgD.umb, dbeta: dbD.umb, sums: sumsD.umb, reducer: .local)
        let yeD = TestBuffer(zerosD), dxeD = TestBuffer(zerosD), dgeD = TestBuffer(toDouble(g0)), dbeD = TestBuffer(toDouble(b0))
        batchnorm_forward_eval(batch: n, channels: c, plane: p, x: xD.ub, gamma: gD.ub, beta: bD.ub, epsilon: eps,
                               runningMean: rmD.ub, runningVar: rvD.ub, y: yeD.umb)
        batchnorm_backward_eval(batch: n, channels: c, plane: p, x: xD.ub, dy: dyD.ub, gamma: gD.ub, epsilon: eps,
                                runningMean: rmD.ub, runningVar: rvD.ub, dx: dxeD.umb, dgamma: dgeD.umb, dbeta: dbeD.umb)

        // Blocked, Float.
        let xbValues = toLayout(x, n: n, c: c, h: h, w: w, l)
        let xb = TestBuffer(xbValues), dyb = TestBuffer(toLayout(dy, n: n, c: c, h: h, w: w, l))
        let nans = [Float](repeating: .nan, count: xbValues.count), cZeros = [Float](repeating: 0, count: c)
        let rm = TestBuffer(rm0), rv = TestBuffer(rv0), y = TestBuffer(nans), sm = TestBuffer(cZeros), sis = TestBuffer(cZeros)
        let dx = TestBuffer(nans), dg = TestBuffer(g0), db = TestBuffer(b0), mom = TestBuffer(momD.array), sums = TestBuffer(sumsD.array)
        let gammaB = TestBuffer(gamma), betaB = TestBuffer(beta)
        batchnorm_forward_train(layout: l, batch: n, channels: c, plane: p, x: xb.ub, gamma: gammaB.ub, beta: betaB.ub, epsilon: eps,
                                momentum: momentum, runningMean: rm.umb, runningVar: rv.umb, y: y.umb, savedMean: sm.umb,
                                savedInvStd: sis.umb, moments: mom.umb, reducer: .local)
        batchnorm_backward_train(layout: l, batch: n, channels: c, plane: p, x: xb.ub, dy: dyb.ub, gamma: gammaB.ub, savedMean: sm.ub,
                                 savedInvStd: sis.ub, dx: dx.umb, dgamma: dg.umb, dbeta: db.umb, sums: sums.umb, reducer: .local)
        let ye = TestBuffer(nans), dxe = TestBuffer(nans), dge = TestBuffer(g0), dbe = TestBuffer(b0)
        batchnorm_forward_eval(layout: l, batch: n, channels: c, plane: p, x: xb.ub, gamma: gammaB.ub, beta: betaB.ub, epsilon: eps,
                               runningMean: rm.ub, runningVar: rv.ub, y: ye.umb)
        batchnorm_backward_eval(layout: l, batch: n, channels: c, plane: p, x: xb.ub, dy: dyb.ub, gamma: gammaB.ub, epsilon: eps,
                                runningMean: rm.ub, runningVar: rv.ub, dx: dxe.umb, dgamma: dge.umb, dbeta: dbe.umb)

        let checks: [(String, [Float], [Double])] = [
            ("y", fromLayout(y.array, n: n, c: c, h: h, w: w, l), yD.array), ("dx", fromLayout(dx.array, n: n, c: c, h: h, w: w, l), dxD.array),
            ("saved mean", sm.array, smD.array), ("saved 1/std", sis.array, sisD.array), ("running mean", rm.array, rmD.array),
            ("running var", rv.array, rvD.array), ("dgamma", dg.array, dgD.array), ("dbeta", db.array, dbD.array),
            ("eval y", fromLayout(ye.array, n: n, c: c, h: h, w: w, l), yeD.array),
            ("eval dx", fromLayout(dxe.array, n: n, c: c, h: h, w: w, l), dxeD.array),
            ("eval dgamma", dge.array, dgeD.array), ("eval dbeta", dbe.array, dbeD.array),
        ]
        for (name, got, want) in checks {
            #expect(relativeError(got, want) <= 1e-5, "\(bc) \(name): \(relativeError(got, want))")
        }
        for (name, v) in [("y", y), ("dx", dx), ("eval y", ye), ("eval dx", dxe)] {
            #expect(paddedChannelValues(v.array, n: n, c: c, h: h, w: w, l).allSatisfy { $0 == 0 }, "\(bc) \(name) padding")
        }
        // The kernels got pointers into these; keep them alive to here.
        withExtendedLifetime((xD, dyD, gD, bD, xb, dyb, gammaB, betaB, mom, sums, momD, sumsD)) {}
    }
}

/// An array's values in memory the test owns, so pointers to them stay valid for the
/// buffer's lifetime (a pointer out of `withUnsafeBufferPointer` does not).
final class TestBuffer<Element> {
    let storage: UnsafeMutableBufferPointer<Element>
    init(_ values: [Element]) {
        storage = .allocate(capacity: values.count)
        _ = storage.initialize(from: values)
    }
    deinit { storage.deallocate() }
    var ub: UnsafeBufferPointer<Element> { UnsafeBufferPointer(storage) }
    var umb: UnsafeMutableBufferPointer<Element> { storage }
    var array: [Element] { Array(storage) }
}
