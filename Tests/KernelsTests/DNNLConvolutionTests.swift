import Geometry
import Kernels
import Testing
import TestSupport

// DNNLConvolution against the im2col kernels in Double (an independent reference: other
// code, other precision) on whole tensors and halo'd shards, in every layout.

/// Cases: stride 2 with dilation 2, asymmetric padding, channels that are not a multiple
/// of the block, groups, the 3x3 "same" convolution of the benchmark at a small size.
let dnnlConvCases: [ConvCase] = [
    ConvCase(n: 2, c: 16, f: 16, h: 12, w: 10, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1),
    ConvCase(n: 2, c: 3, f: 5, h: 13, w: 11, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 2, dw: 2, groups: 1),
    ConvCase(n: 1, c: 20, f: 9, h: 10, w: 9, kh: 3, kw: 5, sh: 1, sw: 1, ph: 2, pw: 0, dh: 1, dw: 1, groups: 1),
    ConvCase(n: 1, c: 1, f: 16, h: 14, w: 14, kh: 5, kw: 5, sh: 1, sw: 1, ph: 2, pw: 2, dh: 1, dw: 1, groups: 1),
    ConvCase(n: 2, c: 8, f: 12, h: 9, w: 8, kh: 3, kw: 3, sh: 2, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 4),
]

struct DNNLShardCase: CustomStringConvertible, Sendable {
    var conv: ConvCase
    var grid: ProcessGrid
    var layout: ActivationLayout
    var wholeInput = false
    var description: String { "\(conv) on \(grid) in \(layout)\(wholeInput ? " reading the whole input" : "")" }
}

let dnnlShardCases: [DNNLShardCase] =
    dnnlConvCases.flatMap { c in
        ([ProcessGrid(shape: [1, 1, 1, 1])] + shardGrids).flatMap { g in testLayouts.map { DNNLShardCase(conv: c, grid: g, layout: $0) } }
    } + dnnlConvCases.prefix(3).map { DNNLShardCase(conv: $0, grid: ProcessGrid(shape: [1, 1, 2, 2]), layout: .blocked(16), wholeInput: true) }

/// One shard's buffers in NCHW (global tensors cut by rects) and the shard.
struct ConvShardData {
    var shard: SpatialShard
    var input: Rect
    var output: Rect
    var x: [Float], dy: [Float]

    init(_ cc: ConvCase, _ g: Conv2DGeometry, rank: Int, grid: ProcessGrid, wholeInput: Bool, x: [Float], dy: [Float]) {
        let xShape = [cc.n, cc.c, cc.h, cc.w], yShape = [cc.n, cc.f, g.outputHeight, g.outputWidth]
        output = grid.block(of: Rect(shape: yShape), rank: rank)
        input = wholeInput ? Rect(shape: xShape) : inputRect(
            for: output, batch: cc.n, channels: cc.c, height: cc.h, width: cc.w,
            kernel: (cc.kh, cc.kw), stride: (cc.sh, cc.sw), padding: (cc.ph, cc.pw), dilation: (cc.dh, cc.dw))
        shard = SpatialShard(input: input, output: output)
        self.x = extract(x, shape: xShape, rect: input)
        self.dy = extract(dy, shape: yShape, rect: output)
    }
}

/// Runs a DNNLConvolution's three passes on NCHW values, converting to and from `layout`.
struct DNNLConvRun {
    let conv: DNNLConvolution
    let n: Int, c: Int, f: Int
    var inRows: Int { conv.shard.inputRows.count }
    var inCols: Int { conv.shard.inputCols.count }
    var outRows: Int { conv.shard.outputRows.count }
    var outCols: Int { conv.shard.outputCols.count }

    func forward(x: [Float], w: [Float], b: [Float], rows: Range<Int>? = nil, cols: Range<Int>? = nil,
                 into y: inout [Float]) {
        let xl = toLayout(x, n: n, c: c, h: inRows, w: inCols, conv.input)
        xl.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                b.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { conv.forward(x: xp, weight: wp, bias: bp, y: $0, outputRows: rows, outputCols: cols) }
                }
            }
        }
    }

    func forward(x: [Float], w: [Float], b: [Float]) -> [Float] {
        var y = [Float](repeating: .nan, count: conv.outputCount)
        forward(x: x, w: w, b: b, into: &y)
        return fromLayout(y, n: n, c: f, h: outRows, w: outCols, conv.output)
    }

    func backwardData(dy: [Float], w: [Float], rows: Range<Int>? = nil, cols: Range<Int>? = nil, into dx: inout [Float]) {
        let dyl = toLayout(dy, n: n, c: f, h: outRows, w: outCols, conv.output)
        dyl.withUnsafeBufferPointer { dyp in
            w.withUnsafeBufferPointer { wp in
                dx.withUnsafeMutableBufferPointer { conv.backwardData(dy: dyp, weight: wp, dx: $0, inputRows: rows, inputCols: cols) }
            }
        }
    }

    func backwardData(dy: [Float], w: [Float]) -> [Float] {
        var dx = [Float](repeating: .nan, count: conv.inputCount)
        backwardData(dy: dy, w: w, into: &dx)
        return fromLayout(dx, n: n, c: c, h: inRows, w: inCols, conv.input)
    }

    /// Adds into `dw` and `db`.
    func backwardWeights(x: [Float], dy: [Float], dw: inout [Float], db: inout [Float]) {
        let xl = toLayout(x, n: n, c: c, h: inRows, w: inCols, conv.input)
        let dyl = toLayout(dy, n: n, c: f, h: outRows, w: outCols, conv.output)
        xl.withUnsafeBufferPointer { xp in
            dyl.withUnsafeBufferPointer { dyp in
                dw.withUnsafeMutableBufferPointer { dwp in
                    db.withUnsafeMutableBufferPointer { conv.backwardWeights(x: xp, dy: dyp, dweight: dwp, dbias: $0) }
                }
            }
        }
    }
}

@Suite struct DNNLConvolutionTests {
    @Test(arguments: dnnlShardCases)
    func matchesTheReferenceKernelsInDouble(_ sc: DNNLShardCase) throws {
        let cc = sc.conv
        let g = try cc.geometry()
        var rng = SplitMix64(seed: 11)
        let xShape = [cc.n, cc.c, cc.h, cc.w], yShape = [cc.n, cc.f, g.outputHeight, g.outputWidth]
        let x: [Float] = randomValues(xShape.reduce(1, *), &rng)
        let w: [Float] = randomValues(cc.f * g.patchSize, &rng)
        let b: [Float] = randomValues(cc.f, &rng)
        let dy: [Float] = randomValues(yShape.reduce(1, *), &rng)
        for rank in 0..<sc.grid.count {
            let d = ConvShardData(cc, g, rank: rank, grid: sc.grid, wholeInput: sc.wholeInput, x: x, dy: dy)
            let reference = ConvRun<Double>(g: g, s: d.shard, n: cc.n)
            let yRef = reference.forward(x: toDouble(d.x), w: toDouble(w), b: toDouble(b))
            let gRef = reference.backward(x: toDouble(d.x), w: toDouble(w), dy: toDouble(d.dy))
            let run = DNNLConvRun(conv: try DNNLConvolution(g, d.shard, batch: cc.n, input: sc.layout, output: sc.layout),
                                  n: cc.n, c: cc.c, f: cc.f)
            let y = run.forward(x: d.x, w: w, b: b)
            let dx = run.backwardData(dy: d.dy, w: w)
            // Accumulation starts from non-zero values, so a missing add shows.
            let dw0: [Float] = randomValues(w.count, &rng), db0: [Float] = randomValues(b.count, &rng)
            var dw = dw0, db = db0
            run.backwardWeights(x: d.x, dy: d.dy, dw: &dw, db: &db)
            let what = "\(sc) rank \(rank) [\(run.conv.implementations.forward)]"
            #expect(relativeError(y, yRef) <= 1e-5, "\(what) forward: \(relativeError(y, yRef))")
            #expect(relativeError(dx, gRef.dx) <= 1e-5, "\(what) dx: \(relativeError(dx, gRef.dx))")
            let dwRef = zip(dw0, gRef.dw).map { Double($0) + $1 }, dbRef = zip(db0, gRef.db).map { Double($0) + $1 }
            #expect(relativeError(dw, dwRef) <= 1e-5, "\(what) dw: \(relativeError(dw, dwRef))")
            #expect(relativeError(db, dbRef) <= 1e-5, "\(what) db: \(relativeError(db, dbRef))")
        }
    }

    @Test func theBenchmarkShapeRunsOnTheJITKernelsInPlace() throws {
        let g = try Conv2DGeometry(inChannels: 16, outChannels: 16, height: 16, width: 16, kernel: 3, padding: 1)
        let shard = SpatialShard(inputRows: 7..<16, inputCols: 0..<9, outputRows: 8..<16, outputCols: 0..<8)
        let conv = try DNNLConvolution(g, shard, batch: 2, input: .preferred, output: .preferred)
        let impl = conv.implementations
        print("oneDNN on \(DNNLEngine.instructionSet), \(ActivationLayout.preferred): \(impl)")
        if ActivationLayout.preferred != .nchw {
            #expect(impl.forward.hasPrefix("jit") && impl.backwardData.hasPrefix("jit") && impl.backwardWeights.hasPrefix("jit"),
                    "\(impl)")
            #expect(conv.forwardIsDirect)
        }
    }

    /// A block of output channels (the channel split of a layer): its filters only, its
    /// part of y, the block's share of dx.
    @Test(arguments: [ActivationLayout.blocked(16), .blocked(8), .nchw])
    func aBlockOfOutputChannels(_ layout: ActivationLayout) throws {
        let cc = dnnlConvCases[2]
        let g = try cc.geometry()
        let block = 2..<7
        var rng = SplitMix64(seed: 4)
        let x: [Float] = randomValues(cc.n * cc.c * cc.h * cc.w, &rng)
        let w: [Float] = randomValues(block.count * g.patchSize, &rng)
        let b: [Float] = randomValues(block.count, &rng)
        let dy: [Float] = randomValues(cc.n * block.count * g.outputHeight * g.outputWidth, &rng)
        var reference = ConvRun<Double>(g: g, s: g.wholeShard, n: cc.n)
        reference.block = block
        let yRef = reference.forward(x: toDouble(x), w: toDouble(w), b: toDouble(b))
        let gRef = reference.backward(x: toDouble(x), w: toDouble(w), dy: toDouble(dy))
        let run = DNNLConvRun(conv: try DNNLConvolution(g, g.wholeShard, batch: cc.n, outChannels: block, input: layout, output: layout),
                              n: cc.n, c: cc.c, f: block.count)
        let y = run.forward(x: x, w: w, b: b), dx = run.backwardData(dy: dy, w: w)
        var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: b.count)
        run.backwardWeights(x: x, dy: dy, dw: &dw, db: &db)
        #expect(relativeError(y, yRef) <= 1e-5, "forward: \(relativeError(y, yRef))")
        #expect(relativeError(dx, gRef.dx) <= 1e-5, "dx: \(relativeError(dx, gRef.dx))")
        #expect(relativeError(dw, gRef.dw) <= 1e-5, "dw: \(relativeError(dw, gRef.dw))")
        #expect(relativeError(db, gRef.db) <= 1e-5, "db: \(relativeError(db, gRef.db))")
    }

    @Test func aGroupedConvolutionNeedsAllItsOutputChannels() throws {
        let g = try Conv2DGeometry(inChannels: 4, outChannels: 4, height: 5, width: 5, kernel: 3, padding: 1, groups: 2)
        #expect(throws: KernelShapeError.self) {
            try DNNLConvolution(g, g.wholeShard, batch: 1, outChannels: 0..<2, input: .nchw, output: .nchw)
        }
    }
}
