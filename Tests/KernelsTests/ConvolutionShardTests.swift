import Geometry
import Kernels
import Testing
import TestSupport

/// Shard cases: a generic strided, dilated, grouped convolution and a ResNet stem
/// (7x7, stride 2, pad 3) on odd sizes.
let convShardCases: [ConvCase] = [
    ConvCase(n: 2, c: 4, f: 6, h: 13, w: 11, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 2, dw: 2, groups: 2, budget: 1),
    ConvCase(n: 1, c: 3, f: 8, h: 23, w: 21, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3, dh: 1, dw: 1, groups: 1),
    ConvCase(n: 2, c: 2, f: 2, h: 10, w: 9, kh: 3, kw: 3, sh: 1, sw: 1, ph: 2, pw: 0, dh: 1, dw: 1, groups: 1),
    // "Same" convolutions: full-width shards take the contiguous im2col/col2im path.
    ConvCase(n: 2, c: 2, f: 3, h: 11, w: 10, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1),
    ConvCase(n: 1, c: 2, f: 2, h: 12, w: 9, kh: 3, kw: 5, sh: 1, sw: 1, ph: 2, pw: 4, dh: 2, dw: 2, groups: 1, budget: 40),
    // Groups at stride 1: pitched bands per group when a shard's input is wider.
    ConvCase(n: 1, c: 4, f: 6, h: 9, w: 8, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 2, budget: 1),
    // Shards whose outputs read only padding (their input rect is empty).
    ConvCase(n: 2, c: 2, f: 3, h: 4, w: 6, kh: 1, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1),
]

struct ShardCase: CustomStringConvertible, Sendable {
    var conv: ConvCase
    var grid: ProcessGrid
    /// Give every shard the whole input (a read rect wider than the receptive field, as
    /// when another consumer of the tensor needs a wider halo).
    var wholeInput = false
    var description: String { "\(conv) on grid \(grid)\(wholeInput ? " with the whole input" : "")" }
}

@Suite struct ConvolutionShardTests {
    @Test(arguments: convShardCases.flatMap { c in shardGrids.map { ShardCase(conv: c, grid: $0) } }
          + convShardCases.map { ShardCase(conv: $0, grid: ProcessGrid(shape: [1, 1, 2, 2]), wholeInput: true) })
    func shardsAssembleToTheWholeTensor(_ sc: ShardCase) throws {
        let cc = sc.conv
        let g = try cc.geometry()
        var rng = SplitMix64(seed: 21)
        let xShape = [cc.n, cc.c, cc.h, cc.w], yShape = [cc.n, cc.f, g.outputHeight, g.outputWidth]
        let x: [Float] = randomValues(xShape.reduce(1, *), &rng)
        let w: [Float] = randomValues(cc.f * g.patchSize, &rng)
        let b: [Float] = randomValues(cc.f, &rng)
        let dy: [Float] = randomValues(yShape.reduce(1, *), &rng)
        let whole = ConvRun<Float>(g: g, s: g.wholeShard, n: cc.n, budget: cc.budget)
        let y = whole.forward(x: x, w: w, b: b)
        let grads = whole.backward(x: x, w: w, dy: dy)

        var yAssembled = [Float](repeating: .nan, count: y.count)
        var dxAssembled = [Float](repeating: 0, count: x.count)
        var dwSum = [Float](repeating: 0, count: w.count), dbSum = [Float](repeating: 0, count: cc.f)
        for rank in 0..<sc.grid.count {
            let out = sc.grid.block(of: Rect(shape: yShape), rank: rank)
            let inp = sc.wholeInput ? Rect(shape: xShape) : inputRect(
                for: out, batch: cc.n, channels: cc.c, height: cc.h, width: cc.w,
                kernel: (cc.kh, cc.kw), stride: (cc.sh, cc.sw), padding: (cc.ph, cc.pw), dilation: (cc.dh, cc.dw))
            let run = ConvRun<Float>(g: g, s: SpatialShard(input: inp, output: out), n: cc.n, budget: cc.budget)
            let xLocal = extract(x, shape: xShape, rect: inp)
            putBlock(run.forward(x: xLocal, w: w, b: b), into: &yAssembled, shape: yShape, rect: out)
            let local = run.backward(x: xLocal, w: w, dy: extract(dy, shape: yShape, rect: out))
            addBlock(local.dx, into: &dxAssembled, shape: xShape, rect: inp)
            for i in dwSum.indices { dwSum[i] += local.dw[i] }
            for i in dbSum.indices { dbSum[i] += local.db[i] }
        }
        // Bitwise when OpenBLAS sums each output's dot product in the same order in a
        // shard and in the whole; its kernels for edge blocks may not, hence the bound.
        let bitwise = yAssembled == y
        #expect(relativeError(yAssembled, y) <= 1e-5, "forward: relative error \(relativeError(yAssembled, y))")
        #expect(relativeError(dxAssembled, grads.dx) <= 1e-5, "dx: \(relativeError(dxAssembled, grads.dx))")
        #expect(relativeError(dwSum, grads.dw) <= 1e-5, "dw: \(relativeError(dwSum, grads.dw))")
        #expect(relativeError(dbSum, grads.db) <= 1e-5, "db: \(relativeError(dbSum, grads.db))")
        print("conv shards \(sc): forward \(bitwise ? "bitwise" : "\(relativeError(yAssembled, y))"), dx \(relativeError(dxAssembled, grads.dx)), dw \(relativeError(dwSum, grads.dw)), db \(relativeError(dbSum, grads.db))")
    }

    /// One-column and one-row shards of a 1x1 convolution with padding 2: the outer two
    /// rings of outputs read nothing but padding.
    @Test(arguments: [ProcessGrid(shape: [1, 1, 1, 7]), ProcessGrid(shape: [1, 1, 7, 1])])
    func shardsThatReadOnlyPadding(_ grid: ProcessGrid) throws {
        let cc = ConvCase(n: 1, c: 2, f: 2, h: 3, w: 3, kh: 1, kw: 1, sh: 1, sw: 1, ph: 2, pw: 2, dh: 1, dw: 1, groups: 1)
        try shardsAssembleToTheWholeTensor(ShardCase(conv: cc, grid: grid))
    }

    /// A shard whose outputs read only padding gets an input buffer with no address.
    @Test func emptyInputWithoutAddress() throws {
        let g = try Conv2DGeometry(inChannels: 1, outChannels: 2, height: 3, width: 3, kernel: 1, padding: 2)
        // As the partitioner gives it: no rows, the columns of the receptive field.
        let s = SpatialShard(inputRows: 0..<0, inputCols: 0..<3, outputRows: 0..<1, outputCols: 0..<7)
        var y = [Float](repeating: .nan, count: 2 * 7), dw: [Float] = [5, 6]
        var ws = [Float](repeating: 0, count: conv2d_workspace_count(g, s))
        let none = UnsafeBufferPointer<Float>(start: nil, count: 0)
        let dy = [Float](repeating: 1, count: 14)
        [Float(1), 2].withUnsafeBufferPointer { w in [Float(0.5), -1].withUnsafeBufferPointer { b in
            y.withUnsafeMutableBufferPointer { yp in ws.withUnsafeMutableBufferPointer { wsp in
                conv2d_forward(g, s, batch: 1, x: none, weight: w, bias: b, y: yp, workspace: wsp)
                dy.withUnsafeBufferPointer { dyp in dw.withUnsafeMutableBufferPointer {
                    conv2d_backward_filter(g, s, batch: 1, x: none, dy: dyp, dweight: $0, workspace: wsp)
                } }
            } }
        } }
        #expect(y == [Float](repeating: 0.5, count: 7) + [Float](repeating: -1, count: 7))
        #expect(dw == [5, 6])
    }

    /// Output-channel blocks (one crossing a group boundary) concatenate to the whole;
    /// stride 2 (GEMM + col2im) and stride 1 (transposed convolution) backward-data.
    @Test(arguments: [
        convCases[0],
        ConvCase(n: 2, c: 4, f: 6, h: 7, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 2, budget: 1),
    ])
    func outputChannelBlocksAssemble(_ cc: ConvCase) throws {
        let g = try cc.geometry()
        var rng = SplitMix64(seed: 22)
        let x: [Double] = randomValues(cc.n * cc.c * cc.h * cc.w, &rng)
        let w: [Double] = randomValues(cc.f * g.patchSize, &rng)
        let b: [Double] = randomValues(cc.f, &rng)
        let plane = g.outputHeight * g.outputWidth
        let dy: [Double] = randomValues(cc.n * cc.f * plane, &rng)
        let whole = ConvRun<Double>(g: g, s: g.wholeShard, n: cc.n)
        let y = whole.forward(x: x, w: w, b: b), grads = whole.backward(x: x, w: w, dy: dy)
        var dxSum = [Double](repeating: 0, count: x.count)
        for block in [0..<2, 2..<5, 5..<6] {
            let run = ConvRun<Double>(g: g, s: g.wholeShard, n: cc.n, block: block)
            let wb = Array(w[(block.lowerBound * g.patchSize)..<(block.upperBound * g.patchSize)])
            let yb = run.forward(x: x, w: wb, b: Array(b[block]))
            let yShape = [cc.n, cc.f, g.outputHeight, g.outputWidth]
            let rect = Rect(origin: [0, block.lowerBound, 0, 0], size: [cc.n, block.count, g.outputHeight, g.outputWidth])
            assertClose(yb, extract(y, shape: yShape, rect: rect), rtol: 1e-12, atol: 1e-12, "block \(block) forward")
            let local = run.backward(x: x, w: wb, dy: extract(dy, shape: yShape, rect: rect))
            for i in dxSum.indices { dxSum[i] += local.dx[i] }
            assertClose(local.dw, Array(grads.dw[(block.lowerBound * g.patchSize)..<(block.upperBound * g.patchSize)]),
                        rtol: 1e-12, atol: 1e-12, "block \(block) dw")
        }
        assertClose(dxSum, grads.dx, rtol: 1e-12, atol: 1e-12, "dx summed over blocks")
    }
}
