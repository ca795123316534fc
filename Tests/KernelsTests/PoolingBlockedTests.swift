import Geometry
@testable import Kernels
import Testing
import TestSupport

// The nChw16c and (with AVX2) nChw8c max-pool loops against Pooling.swift's NCHW kernels on whole tensors and
// halo'd shards: the same maxima and, since both route each gradient to the first
// maximum and add overlapping windows in output order, the same input gradient bit for bit.

let blockedMaxCases: [DNNLPoolCase] = [
    PoolCase(max: true, n: 2, c: 16, h: 12, w: 10, k: 2, s: 2, p: 0),
    PoolCase(max: true, n: 2, c: 20, h: 11, w: 9, k: 3, s: 2, p: 1),   // overlapping windows, a padded block
    PoolCase(max: true, n: 1, c: 35, h: 9, w: 13, k: 3, s: 1, p: 1),
    // Windows that do not overlap, with pixels in no window: an odd size, gaps and padding.
    PoolCase(max: true, n: 2, c: 20, h: 11, w: 9, k: 2, s: 2, p: 0),
    PoolCase(max: true, n: 1, c: 16, h: 10, w: 11, k: 2, s: 3, p: 1),
].flatMap { p in
    ([ProcessGrid(shape: [1, 1, 1, 1])] + shardGrids).flatMap { grid in
        [ActivationLayout.blocked(16), .blocked(8)].filter { $0 == .blocked(16) || CPUFeatures.avx2 }
            .map { DNNLPoolCase(pool: p, grid: grid, layout: $0) }
    }
}

@Suite struct PoolingBlockedTests {
    @Test(arguments: blockedMaxCases)
    func matchesTheNCHWKernels(_ pc: DNNLPoolCase) throws {
        let p = pc.pool
        let g = try p.geometry()
        let layout = pc.layout
        #expect(maxpool2d_blocked_supports(g, layout: layout) && !maxpool2d_blocked_supports(g, layout: .nchw))
        var rng = SplitMix64(seed: 5)
        let xShape = [p.n, p.c, p.h, p.w], yShape = [p.n, p.c, g.outputHeight, g.outputWidth]
        // Ties on purpose: values from a handful of levels, so first-maximum order matters.
        let x: [Float] = randomValues(xShape.reduce(1, *), &rng).map { ($0 * 4).rounded() / 4 }
        let dy: [Float] = randomValues(yShape.reduce(1, *), &rng)
        for rank in 0..<pc.grid.count {
            let out = pc.grid.block(of: Rect(shape: yShape), rank: rank)
            let inp = inputRect(for: out, batch: p.n, channels: p.c, height: p.h, width: p.w, kernel: (p.k, p.k),
                                stride: (p.s, p.s), padding: (p.p, p.p))
            let s = SpatialShard(input: inp, output: out)
            let xl = extract(x, shape: xShape, rect: inp), dyl = extract(dy, shape: yShape, rect: out)
            let reference = PoolRun<Float>(g: g, s: s, n: p.n, max: true)
            let yRef = reference.forward(xl).y, dxRef = reference.backward(xl, dy: dyl)

            let inRows = s.inputRows.count, inCols = s.inputCols.count, outRows = s.outputRows.count, outCols = s.outputCols.count
            let xb = toLayout(xl, n: p.n, c: p.c, h: inRows, w: inCols, layout)
            let dyb = toLayout(dyl, n: p.n, c: p.c, h: outRows, w: outCols, layout)
            var yb = [Float](repeating: .nan, count: layout.count(n: p.n, c: p.c, h: outRows, w: outCols))
            var dxb = [Float](repeating: .nan, count: xb.count)
            var argmax = [Int32](repeating: -7, count: yb.count)
            xb.withUnsafeBufferPointer { xp in
                yb.withUnsafeMutableBufferPointer { yp in
                    argmax.withUnsafeMutableBufferPointer {
                        maxpool2d_forward_blocked(g, s, batch: p.n, layout: layout, x: xp, y: yp, argmax: $0)
                    }
                }
            }
            dyb.withUnsafeBufferPointer { dyp in
                dxb.withUnsafeMutableBufferPointer { dxp in
                    argmax.withUnsafeBufferPointer { maxpool2d_backward_blocked(g, s, batch: p.n, layout: layout, dy: dyp, argmax: $0, dx: dxp) }
                }
            }
            // The scatter and, for windows that do not overlap, the AVX-512 stores: the same bits.
            for vector in layout == .blocked(16) && CPUFeatures.avx512 && p.s >= p.k ? [false, true] : [false] {
                var other = [Float](repeating: .nan, count: xb.count)
                dyb.withUnsafeBufferPointer { dyp in
                    other.withUnsafeMutableBufferPointer { dxp in
                        argmax.withUnsafeBufferPointer {
                            maxpool2d_backward_blocked(g, s, batch: p.n, layout: layout, dy: dyp, argmax: $0, dx: dxp,
                                                       vector: vector)
                        }
                    }
                }
                #expect(other.map(\.bitPattern) == dxb.map(\.bitPattern), "\(pc) rank \(rank) vector \(vector)")
            }
            let what = "\(pc) rank \(rank)"
            #expect(fromLayout(yb, n: p.n, c: p.c, h: outRows, w: outCols, layout) == yRef, "\(what) forward")
            #expect(fromLayout(dxb, n: p.n, c: p.c, h: inRows, w: inCols, layout) == dxRef, "\(what) dx")
            #expect(paddedChannelValues(yb, n: p.n, c: p.c, h: outRows, w: outCols, layout).allSatisfy { $0 == 0 },
                    "\(what) y padding")
            #expect(paddedChannelValues(dxb, n: p.n, c: p.c, h: inRows, w: inCols, layout).allSatisfy { $0 == 0 },
                    "\(what) dx padding")
        }
    }
}
