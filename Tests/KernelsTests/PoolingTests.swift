import Geometry
import Kernels
import Testing
import TestSupport

struct PoolCase: CustomStringConvertible, Sendable {
    var max: Bool
    var n = 2, c = 3, h: Int, w: Int, k: Int, s: Int, p: Int
    var coverAll = false

    func geometry() throws -> Pool2DGeometry {
        try Pool2DGeometry(channels: c, height: h, width: w, kernel: k, stride: s, padding: p, coverAll: coverAll)
    }
    var description: String { "\(max ? "max" : "avg") \(h)x\(w) k\(k) s\(s) p\(p)\(coverAll ? " cover_all" : "")" }
}

/// The pooling kernels on arrays.
struct PoolRun<T: GEMMScalar> {
    let g: Pool2DGeometry
    let s: SpatialShard
    let n: Int
    let max: Bool

    func forward(_ x: [T]) -> (y: [T], argmax: [Int32]) {
        var y = [T](repeating: 0, count: n * g.channels * s.outputPlane), am = [Int32](repeating: 0, count: y.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            if max {
                am.withUnsafeMutableBufferPointer { maxpool2d_forward(g, s, batch: n, x: xp, y: yp, argmax: $0) }
            } else {
                avgpool2d_forward(g, s, batch: n, x: xp, y: yp)
            }
        } }
        return (y, am)
    }

    func backward(_ x: [T], dy: [T]) -> [T] {
        let am = forward(x).argmax
        var dx = [T](repeating: 1, count: x.count)
        dy.withUnsafeBufferPointer { dyp in dx.withUnsafeMutableBufferPointer { dxp in
            if max {
                am.withUnsafeBufferPointer { maxpool2d_backward(g, s, batch: n, dy: dyp, argmax: $0, dx: dxp) }
            } else {
                avgpool2d_backward(g, s, batch: n, dy: dyp, dx: dxp)
            }
        } }
        return dx
    }
}

let poolCases: [PoolCase] = [
    PoolCase(max: true, h: 7, w: 9, k: 3, s: 2, p: 1),
    PoolCase(max: false, h: 7, w: 9, k: 3, s: 2, p: 1),
    PoolCase(max: true, h: 8, w: 6, k: 2, s: 2, p: 0),
    PoolCase(max: false, h: 8, w: 6, k: 2, s: 2, p: 0),
    PoolCase(max: true, h: 7, w: 9, k: 2, s: 2, p: 0, coverAll: true),
    PoolCase(max: false, h: 7, w: 9, k: 3, s: 2, p: 1, coverAll: true),
    PoolCase(max: false, h: 9, w: 7, k: 5, s: 3, p: 2),
]

@Suite struct PoolingTests {
    @Test func matchesPyTorchAndChainerOnASmallExample() throws {
        let x: [Double] = (1...9).map(Double.init)
        let torchAvg = try Pool2DGeometry(channels: 1, height: 3, width: 3, kernel: 2, stride: 2, padding: 1)
        #expect(PoolRun<Double>(g: torchAvg, s: torchAvg.wholeShard, n: 1, max: false).forward(x).y == [0.25, 1.25, 2.75, 7])
        #expect(PoolRun<Double>(g: torchAvg, s: torchAvg.wholeShard, n: 1, max: true).forward(x).y == [1, 3, 7, 9])
        let chainer = try Pool2DGeometry(channels: 1, height: 3, width: 3, kernel: 2, stride: 2, coverAll: true)
        #expect(chainer.outputHeight == 2 && chainer.outputWidth == 2)
        #expect(PoolRun<Double>(g: chainer, s: chainer.wholeShard, n: 1, max: false).forward(x).y == [3, 2.25, 3.75, 2.25])
        #expect(PoolRun<Double>(g: chainer, s: chainer.wholeShard, n: 1, max: true).forward(x).y == [5, 6, 8, 9])
        let torch = try Pool2DGeometry(channels: 1, height: 3, width: 3, kernel: 2, stride: 2)
        #expect(torch.outputHeight == 1)
    }

    @Test(arguments: poolCases)
    func gradientsMatchCentralDifferences(_ pc: PoolCase) throws {
        let g = try pc.geometry()
        var rng = SplitMix64(seed: 41)
        let x: [Double] = randomValues(pc.n * pc.c * pc.h * pc.w, &rng)
        let r: [Double] = randomValues(pc.n * pc.c * g.outputHeight * g.outputWidth, &rng)
        let run = PoolRun<Double>(g: g, s: g.wholeShard, n: pc.n, max: pc.max)
        let numeric = numericGradient(x) { dot(r, run.forward($0).y) }
        expectGradient("pool \(pc) dx", analytic: run.backward(x, dy: r), numeric: numeric, bound: doubleGradientBound)
        let fr = PoolRun<Float>(g: g, s: g.wholeShard, n: pc.n, max: pc.max)
        expectGradient("pool \(pc) dx (Float)", analytic: fr.backward(toFloat(x), dy: toFloat(r)), numeric: numeric, bound: floatGradientBound)
    }

    @Test(arguments: [
        PoolCase(max: true, h: 13, w: 11, k: 3, s: 2, p: 1),
        PoolCase(max: false, h: 12, w: 10, k: 2, s: 2, p: 0),
        PoolCase(max: true, h: 12, w: 10, k: 4, s: 2, p: 1),
        PoolCase(max: false, h: 13, w: 11, k: 3, s: 2, p: 1, coverAll: true),
        PoolCase(max: true, h: 13, w: 11, k: 2, s: 2, p: 0, coverAll: true),
    ])
    func shardsAssembleToTheWhole(_ pc: PoolCase) throws {
        let g = try pc.geometry()
        var rng = SplitMix64(seed: 42)
        let xShape = [pc.n, pc.c, pc.h, pc.w], yShape = [pc.n, pc.c, g.outputHeight, g.outputWidth]
        let x: [Float] = randomValues(xShape.reduce(1, *), &rng), dy: [Float] = randomValues(yShape.reduce(1, *), &rng)
        let whole = PoolRun<Float>(g: g, s: g.wholeShard, n: pc.n, max: pc.max)
        let y = whole.forward(x).y, dx = whole.backward(x, dy: dy)
        for grid in shardGrids {
            var yA = [Float](repeating: .nan, count: y.count), dxA = [Float](repeating: 0, count: x.count)
            for rank in 0..<grid.count {
                let out = grid.block(of: Rect(shape: yShape), rank: rank)
                let inp = inputRect(for: out, batch: pc.n, channels: pc.c, height: pc.h, width: pc.w,
                                    kernel: (pc.k, pc.k), stride: (pc.s, pc.s), padding: (pc.p, pc.p))
                let run = PoolRun<Float>(g: g, s: SpatialShard(input: inp, output: out), n: pc.n, max: pc.max)
                let xl = extract(x, shape: xShape, rect: inp)
                putBlock(run.forward(xl).y, into: &yA, shape: yShape, rect: out)
                addBlock(run.backward(xl, dy: extract(dy, shape: yShape, rect: out)), into: &dxA, shape: xShape, rect: inp)
            }
            // Each window sums (or compares) its inputs in the same order everywhere.
            #expect(yA == y, "\(pc) on \(grid): forward relative error \(relativeError(yA, y))")
            #expect(relativeError(dxA, dx) <= 1e-5, "\(pc) on \(grid): dx relative error \(relativeError(dxA, dx))")
            print("pool shards \(pc) on \(grid): forward bitwise \(yA == y), dx \(relativeError(dxA, dx))")
        }
    }

    /// Chainer's cover_all with a stride above the kernel: the last window starts past
    /// the end of the tensor (output 0 for max, 0 for average), and its gradient is 0.
    @Test func coverAllWindowsPastTheEnd() throws {
        let g = try Pool2DGeometry(channels: 1, height: 5, width: 5, kernel: 2, stride: 4, padding: 1, coverAll: true)
        #expect(g.outputHeight == 3 && g.outputWidth == 3)
        let x: [Double] = (1...25).map(Double.init)
        let maxRun = PoolRun<Double>(g: g, s: g.wholeShard, n: 1, max: true)
        let avgRun = PoolRun<Double>(g: g, s: g.wholeShard, n: 1, max: false)
        #expect(maxRun.forward(x).y == [1, 5, 0, 21, 25, 0, 0, 0, 0])
        // Chainer divides by the kernel area even for clipped windows.
        #expect(avgRun.forward(x).y == [0.25, 2.25, 0, 9.25, 22, 0, 0, 0, 0])
        let dy = [Double](repeating: 1, count: 9)
        #expect(maxRun.backward(x, dy: dy).reduce(0, +) == 4)
        #expect(avgRun.backward(x, dy: dy).reduce(0, +) == 2.25)
    }

    @Test func rejectsBadShapes() {
        #expect(throws: KernelShapeError.kernelLargerThanInput(layer: "pool1", axis: "width", input: 2, padding: 0, kernel: 3, dilation: 1)) {
            try Pool2DGeometry(layer: "pool1", channels: 1, height: 5, width: 2, kernel: 3, stride: 1)
        }
        do {
            _ = try Pool2DGeometry(layer: "pool2", channels: 1, height: 5, width: 5, kernel: 2, stride: 1, padding: 2)
            Issue.record("padding wider than half the window accepted")
        } catch {
            #expect(error.description == "pool2: padding 2 must be between 0 and half the kernel 2")
        }
    }
}
