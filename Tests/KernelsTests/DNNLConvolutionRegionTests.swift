import Geometry
import Kernels
import Testing
import TestSupport

// Sub-rectangle calls (the interior while the halo is in flight, then the boundary
// strips) against the whole-block call.

/// `range` cut into its first `edge`, middle and last `edge` indices (empty parts dropped).
func threeParts(_ range: Range<Int>, edge: Int) -> [Range<Int>] {
    let a = Swift.min(range.lowerBound + edge, range.upperBound), b = Swift.max(a, range.upperBound - edge)
    return [range.lowerBound..<a, a..<b, b..<range.upperBound].filter { !$0.isEmpty }
}

struct RegionCase: CustomStringConvertible, Sendable {
    var conv: ConvCase
    var layout: ActivationLayout
    var description: String { "\(conv) in \(layout)" }
}

let regionCases: [RegionCase] = [dnnlConvCases[0], dnnlConvCases[1], dnnlConvCases[2]].flatMap { c in
    [ActivationLayout.blocked(16), .nchw].map { RegionCase(conv: c, layout: $0) }
}

/// Bitwise when every piece ran the whole call's implementation and that is a direct
/// kernel: it sums each output's products in an order that does not depend on where the
/// output sits in the block (only on the channel blocking, the same for every piece), and
/// halo values are real inputs in both calls. A piece oneDNN's kernel refuses runs on
/// another implementation, and a GEMM-based implementation blocks its GEMM by the piece's
/// size (`DNNLConvolution.ordersIndependentlyOfSize`): then the order differs, and the
/// pieces are within a few float ulps of the whole.
func expectPieces(_ pieces: [Float], _ whole: [Float], bitwise: Bool, _ implementations: Set<String>, _ what: String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    if bitwise {
        #expect(pieces.map(\.bitPattern) == whole.map(\.bitPattern), "\(what): \(relativeError(pieces, whole))",
                sourceLocation: sourceLocation)
    } else {
        let e = relativeError(pieces, whole)
        #expect(e <= 4 * Double(Float.ulpOfOne), "\(what) (pieces on \(implementations.sorted())): \(e)", sourceLocation: sourceLocation)
        print("\(what): pieces on \(implementations.sorted()), relative error \(e)")
    }
}

@Suite struct DNNLConvolutionRegionTests {
    /// Nine pieces of every shard of a 2x2 grid (strips one and two wide around an
    /// interior) give the whole call's values bit for bit.
    @Test(arguments: regionCases)
    func piecesEqualTheWholeCallBitwise(_ rc: RegionCase) throws {
        let cc = rc.conv
        let g = try cc.geometry()
        var rng = SplitMix64(seed: 5)
        let x: [Float] = randomValues(cc.n * cc.c * cc.h * cc.w, &rng)
        let w: [Float] = randomValues(cc.f * g.patchSize, &rng)
        let b: [Float] = randomValues(cc.f, &rng)
        let dy: [Float] = randomValues(cc.n * cc.f * g.outputHeight * g.outputWidth, &rng)
        let grid = ProcessGrid(shape: [1, 1, 2, 2])
        for rank in 0..<grid.count {
            let d = ConvShardData(cc, g, rank: rank, grid: grid, wholeInput: false, x: x, dy: dy)
            let run = DNNLConvRun(conv: try DNNLConvolution(g, d.shard, batch: cc.n, input: rc.layout, output: rc.layout),
                                  n: cc.n, c: cc.c, f: cc.f)
            var whole = [Float](repeating: .nan, count: run.conv.outputCount)
            run.forward(x: d.x, w: w, b: b, into: &whole)
            for edge in [1, 2] {
                var pieces = [Float](repeating: .nan, count: run.conv.outputCount)
                var regions: [(rows: Range<Int>, cols: Range<Int>)] = []
                for rows in threeParts(d.shard.outputRows, edge: edge) {
                    for cols in threeParts(d.shard.outputCols, edge: edge) {
                        run.forward(x: d.x, w: w, b: b, rows: rows, cols: cols, into: &pieces)
                        regions.append((rows, cols))
                    }
                }
                let bitwise = run.conv.forwardRegionsGiveTheWholeCallsBits(regions)
                // The layers' common case (16 channels, 3x3, stride 1) runs every piece
                // on the direct kernel: the overlap's promise is not empty.
                if rc.conv.c == 16 { #expect(bitwise, "\(rc) rank \(rank): \(run.conv.implementations)") }
                let implementations = Set(regions.map { run.conv.forwardImplementation(outputRows: $0.rows, outputCols: $0.cols) })
                expectPieces(pieces, whole, bitwise: bitwise, implementations, "\(rc) rank \(rank) forward, strips \(edge)")
            }
            var dxWhole = [Float](repeating: .nan, count: run.conv.inputCount)
            run.backwardData(dy: d.dy, w: w, into: &dxWhole)
            for edge in [1, 2] {
                var pieces = [Float](repeating: .nan, count: run.conv.inputCount)
                var implementations = Set<String>()
                for rows in threeParts(d.shard.inputRows, edge: edge) {
                    for cols in threeParts(d.shard.inputCols, edge: edge) {
                        run.backwardData(dy: d.dy, w: w, rows: rows, cols: cols, into: &pieces)
                        let impl = run.conv.backwardDataImplementation(inputRows: rows, inputCols: cols)
                        if impl != "none" { implementations.insert(impl) }
                    }
                }
                let block = run.conv.implementations.backwardData
                let bitwise = implementations == [block] && DNNLConvolution.ordersIndependentlyOfSize(block)
                expectPieces(pieces, dxWhole, bitwise: bitwise, implementations, "\(rc) rank \(rank) dx, strips \(edge)")
            }
        }
    }

    /// Overlap without copies: the whole block runs while the halo is stale (here: NaN),
    /// then the strips of outputs that read the halo run again once it has arrived; the
    /// result is the whole call's on the fresh input, bit for bit.
    @Test(arguments: [ActivationLayout.blocked(16), .nchw])
    func aStaleHaloWholeCallThenItsStripsEqualsTheFreshCall(_ layout: ActivationLayout) throws {
        let cc = dnnlConvCases[0]
        let g = try cc.geometry()
        var rng = SplitMix64(seed: 8)
        let x: [Float] = randomValues(cc.n * cc.c * cc.h * cc.w, &rng)
        let w: [Float] = randomValues(cc.f * g.patchSize, &rng)
        let b: [Float] = randomValues(cc.f, &rng)
        let grid = ProcessGrid(shape: [1, 1, 2, 2])
        for rank in 0..<grid.count {
            let d = ConvShardData(cc, g, rank: rank, grid: grid, wholeInput: false, x: x, dy: [Float](repeating: 0, count: cc.n * cc.f * g.outputHeight * g.outputWidth))
            let s = d.shard
            let run = DNNLConvRun(conv: try DNNLConvolution(g, s, batch: cc.n, input: layout, output: layout), n: cc.n, c: cc.c, f: cc.f)
            var fresh = [Float](repeating: .nan, count: run.conv.outputCount)
            run.forward(x: d.x, w: w, b: b, into: &fresh)
            // The owned input block is the output block here (a "same" convolution):
            // everything else in the read region is halo.
            var stale = d.x
            for i in 0..<cc.n { for c in 0..<cc.c { for r in s.inputRows { for col in s.inputCols
                where !s.outputRows.contains(r) || !s.outputCols.contains(col) {
                stale[((i * cc.c + c) * s.inputRows.count + r - s.inputRows.lowerBound) * s.inputCols.count + col - s.inputCols.lowerBound] = .nan
            } } } }
            var y = [Float](repeating: .nan, count: run.conv.outputCount)
            run.forward(x: stale, w: w, b: b, into: &y)
            // Outputs reading the halo: the first/last row or column facing a neighbour.
            let top = s.outputRows.lowerBound > 0, bottom = s.outputRows.upperBound < g.outputHeight
            let left = s.outputCols.lowerBound > 0, right = s.outputCols.upperBound < g.outputWidth
            let inner = (s.outputRows.lowerBound + (top ? 1 : 0))..<(s.outputRows.upperBound - (bottom ? 1 : 0))
            var strips: [(Range<Int>, Range<Int>)] = []
            if top { strips.append((s.outputRows.lowerBound..<inner.lowerBound, s.outputCols)) }
            if bottom { strips.append((inner.upperBound..<s.outputRows.upperBound, s.outputCols)) }
            if left { strips.append((inner, s.outputCols.lowerBound..<(s.outputCols.lowerBound + 1))) }
            if right { strips.append((inner, (s.outputCols.upperBound - 1)..<s.outputCols.upperBound)) }
            #expect(!strips.isEmpty)
            for (rows, cols) in strips { run.forward(x: d.x, w: w, b: b, rows: rows, cols: cols, into: &y) }
            #expect(y.map(\.bitPattern) == fresh.map(\.bitPattern), "\(layout) rank \(rank): \(relativeError(y, fresh))")
        }
    }
}
