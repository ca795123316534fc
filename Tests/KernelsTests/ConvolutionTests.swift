import Geometry
import Kernels
import Testing
import TestSupport

/// The convolution kernels on arrays. `budget` sets the workspace (small budgets force
/// one-row bands).
struct ConvRun<T: GEMMScalar> {
    let g: Conv2DGeometry
    let s: SpatialShard
    let n: Int
    var block: Range<Int>? = nil
    var budget = 1 << 16

    var f: Int { (block ?? 0..<g.outChannels).count }

    func forward(x: [T], w: [T], b: [T]?) -> [T] {
        var y = [T](repeating: 0, count: n * f * s.outputPlane)
        var ws = [T](repeating: 0, count: conv2d_workspace_count(g, s, budget: budget))
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    ws.withUnsafeMutableBufferPointer { wsp in
                        if let b {
                            b.withUnsafeBufferPointer { bp in
                                conv2d_forward(g, s, batch: n, outChannels: block, x: xp, weight: wp, bias: bp, y: yp, workspace: wsp)
                            }
                        } else {
                            conv2d_forward(g, s, batch: n, outChannels: block, x: xp, weight: wp, bias: nil, y: yp, workspace: wsp)
                        }
                    }
                }
            }
        }
        return y
    }

    func backward(x: [T], w: [T], dy: [T]) -> (dx: [T], dw: [T], db: [T]) {
        var dx = [T](repeating: 1, count: x.count), dw = [T](repeating: 0, count: w.count), db = [T](repeating: 0, count: f)
        var ws = [T](repeating: 0, count: conv2d_workspace_count(g, s, budget: budget))
        dy.withUnsafeBufferPointer { dyp in
            w.withUnsafeBufferPointer { wp in
                ws.withUnsafeMutableBufferPointer { wsp in
                    dx.withUnsafeMutableBufferPointer { conv2d_backward_data(g, s, batch: n, outChannels: block, dy: dyp, weight: wp, dx: $0, workspace: wsp) }
                    x.withUnsafeBufferPointer { xp in
                        dw.withUnsafeMutableBufferPointer { conv2d_backward_filter(g, s, batch: n, outChannels: block, x: xp, dy: dyp, dweight: $0, workspace: wsp) }
                    }
                }
                db.withUnsafeMutableBufferPointer { conv2d_backward_bias(batch: n, channels: f, plane: s.outputPlane, dy: dyp, dbias: $0) }
            }
        }
        return (dx, dw, db)
    }
}

struct ConvCase: CustomStringConvertible, Sendable {
    var n, c, f, h, w, kh, kw, sh, sw, ph, pw, dh, dw, groups: Int
    var budget = 1 << 16

    func geometry() throws -> Conv2DGeometry {
        try Conv2DGeometry(inChannels: c, outChannels: f, height: h, width: w, kernelHeight: kh, kernelWidth: kw,
                           strideH: sh, strideW: sw, paddingH: ph, paddingW: pw, dilationH: dh, dilationW: dw, groups: groups)
    }
    var description: String {
        "N\(n) C\(c) F\(f) \(h)x\(w) k\(kh)x\(kw) s\(sh),\(sw) p\(ph),\(pw) d\(dh),\(dw) g\(groups)"
    }
}

/// Odd sizes, stride 2, dilation 2, groups 2, padding 0/1/2; one-row bands and whole bands.
let convCases: [ConvCase] = [
    ConvCase(n: 2, c: 4, f: 6, h: 7, w: 9, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1, groups: 2, budget: 1),
    ConvCase(n: 1, c: 3, f: 2, h: 9, w: 8, kh: 3, kw: 3, sh: 1, sw: 1, ph: 2, pw: 2, dh: 2, dw: 2, groups: 1),
    ConvCase(n: 2, c: 2, f: 4, h: 5, w: 7, kh: 2, kw: 3, sh: 1, sw: 2, ph: 0, pw: 1, dh: 1, dw: 2, groups: 2, budget: 1),
    // Output as wide as the input: the contiguous im2col/col2im path (bands of 1 and 2 rows).
    ConvCase(n: 2, c: 3, f: 2, h: 5, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1),
    ConvCase(n: 1, c: 2, f: 2, h: 6, w: 9, kh: 3, kw: 5, sh: 1, sw: 1, ph: 2, pw: 4, dh: 2, dw: 2, groups: 1, budget: 40),
    // Padding wider than the kernel's reach (1 x 3, pad 1): backward-data by GEMM + col2im
    // on the contiguous path; the first and last output rows see only padding.
    ConvCase(n: 2, c: 2, f: 3, h: 4, w: 6, kh: 1, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1),
    // Output as wide as the input but rows strided: not the contiguous path.
    ConvCase(n: 1, c: 2, f: 3, h: 7, w: 6, kh: 3, kw: 3, sh: 2, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 40),
]

@Suite struct ConvolutionTests {
    @Test(arguments: convCases)
    func matchesNaiveTwin(_ cc: ConvCase) throws {
        let g = try cc.geometry()
        var rng = SplitMix64(seed: 11)
        let x: [Double] = randomValues(cc.n * cc.c * cc.h * cc.w, &rng)
        let w: [Double] = randomValues(cc.f * g.patchSize, &rng)
        let b: [Double] = randomValues(cc.f, &rng)
        let dy: [Double] = randomValues(cc.n * cc.f * g.outputHeight * g.outputWidth, &rng)
        let run = ConvRun<Double>(g: g, s: g.wholeShard, n: cc.n, budget: cc.budget)
        assertClose(run.forward(x: x, w: w, b: b), naiveConvForward(g, batch: cc.n, x: x, w: w, b: b), rtol: 1e-12, atol: 1e-12, "forward")
        let got = run.backward(x: x, w: w, dy: dy), want = naiveConvBackward(g, batch: cc.n, x: x, w: w, dy: dy)
        assertClose(got.dx, want.dx, rtol: 1e-12, atol: 1e-12, "dx")
        assertClose(got.dw, want.dw, rtol: 1e-12, atol: 1e-12, "dw")
        assertClose(got.db, want.db, rtol: 1e-12, atol: 1e-12, "db")
    }

    @Test(arguments: convCases)
    func gradientsMatchCentralDifferences(_ cc: ConvCase) throws {
        let g = try cc.geometry()
        var rng = SplitMix64(seed: 12)
        let x: [Double] = randomValues(cc.n * cc.c * cc.h * cc.w, &rng)
        let w: [Double] = randomValues(cc.f * g.patchSize, &rng)
        let b: [Double] = randomValues(cc.f, &rng)
        let r: [Double] = randomValues(cc.n * cc.f * g.outputHeight * g.outputWidth, &rng)
        let run = ConvRun<Double>(g: g, s: g.wholeShard, n: cc.n, budget: cc.budget)
        let analytic = run.backward(x: x, w: w, dy: r)
        let nx = numericGradient(x) { dot(r, run.forward(x: $0, w: w, b: b)) }
        let nw = numericGradient(w) { dot(r, run.forward(x: x, w: $0, b: b)) }
        let nb = numericGradient(b) { dot(r, run.forward(x: x, w: w, b: $0)) }
        expectGradient("conv \(cc) dx", analytic: analytic.dx, numeric: nx, bound: doubleGradientBound)
        expectGradient("conv \(cc) dw", analytic: analytic.dw, numeric: nw, bound: doubleGradientBound)
        expectGradient("conv \(cc) db", analytic: analytic.db, numeric: nb, bound: doubleGradientBound)

        let fr = ConvRun<Float>(g: g, s: g.wholeShard, n: cc.n, budget: cc.budget)
        let fa = fr.backward(x: toFloat(x), w: toFloat(w), dy: toFloat(r))
        // Float analytic vs the Double differences of the Float-rounded inputs' problem.
        expectGradient("conv \(cc) dx (Float)", analytic: fa.dx, numeric: nx, bound: floatGradientBound)
        expectGradient("conv \(cc) dw (Float)", analytic: fa.dw, numeric: nw, bound: floatGradientBound)
        expectGradient("conv \(cc) db (Float)", analytic: fa.db, numeric: nb, bound: floatGradientBound)
    }

    @Test func rejectsBadShapesNamingLayerAndShapes() {
        #expect(throws: KernelShapeError.kernelLargerThanInput(layer: "conv3", axis: "height", input: 3, padding: 0, kernel: 5, dilation: 1)) {
            try Conv2DGeometry(layer: "conv3", inChannels: 1, outChannels: 1, height: 3, width: 8, kernel: 5)
        }
        do {
            _ = try Conv2DGeometry(layer: "conv2", inChannels: 4, outChannels: 4, height: 5, width: 5, kernel: 3, dilation: 3)
            Issue.record("dilated kernel wider than the input accepted")
        } catch {
            #expect(error.description == "conv2: kernel 3 (dilation 3, span 7) is larger than the padded input along height: input 5 + 2*padding 0 = 5")
        }
        do {
            _ = try Conv2DGeometry(layer: "conv1", inChannels: 5, outChannels: 4, height: 8, width: 8, kernel: 3, groups: 2)
            Issue.record("5 channels in 2 groups accepted")
        } catch {
            #expect(error.description == "conv1: input channels 5 are not divisible by groups 2")
        }
        #expect(throws: KernelShapeError.channelsNotDivisibleByGroups(layer: "Conv2D", which: "output", channels: 3, groups: 2)) {
            try Conv2DGeometry(inChannels: 4, outChannels: 3, height: 8, width: 8, kernel: 3, groups: 2)
        }
        // The padded input makes a kernel fit that the bare input would not.
        #expect((try? Conv2DGeometry(inChannels: 1, outChannels: 1, height: 3, width: 3, kernel: 5, padding: 1)) != nil)
    }
}
