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

/// Bitwise when every piece ran the whole call's implementation: one oneDNN kernel sums
/// each output's products in an order that does not depend on where the output sits in
/// the block (only on the channel blocking, the same for every piece), and halo values
/// are real inputs in both calls. A piece oneDNN's kernel refuses runs on another
/// implementation, whose order differs: then within a few float ulps of the whole.
func expectPieces(_ pieces: [Float], _ whole: [Float], _ others: Set<String>, _ what: String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    if others.isEmpty {
        #expect(pieces.map(\.bitPattern) == whole.map(\.bitPattern), "\(what): \(relativeError(pieces, whole))",
                sourceLocation: sourceLocation)
    } else {
        let e = relativeError(pieces, whole)
        #expect(e <= 4 * Double(Float.ulpOfOne), "\(what) (pieces on \(others.sorted())): \(e)", sourceLocation: sourceLocation)
        print("\(what): pieces on \(others.sorted()), relative error \(e)")
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
                var others = Set<String>()
                for rows in threeParts(d.shard.outputRows, edge: edge) {
                    for cols in threeParts(d.shard.outputCols, edge: edge) {
                        run.forward(x: d.x, w: w, b: b, rows: rows, cols: cols, into: &pieces)
                        let impl = run.conv.forwardImplementation(outputRows: rows, outputCols: cols)
                        if impl != run.conv.implementations.forward { others.insert(impl) }
                    }
                }
                expectPieces(pieces, whole, others, "\(rc) rank \(rank) forward, strips \(edge)")
            }
            var dxWhole = [Float](repeating: .nan, count: run.conv.inputCount)
            run.backwardData(dy: d.dy, w: w, into: &dxWhole)
            for edge in [1, 2] {
                var pieces = [Float](repeating: .nan, count: run.conv.inputCount)
                var others = Set<String>()
                for rows in threeParts(d.shard.inputRows, edge: edge) {
                    for cols in threeParts(d.shard.inputCols, edge: edge) {
                        run.backwardData(dy: d.dy, w: w, rows: rows, cols: cols, into: &pieces)
                        let impl = run.conv.backwardDataImplementation(inputRows: rows, inputCols: cols)
                        if impl != run.conv.implementations.backwardData && impl != "none" { others.insert(impl) }
                    }
                }
                expectPieces(pieces, dxWhole, others, "\(rc) rank \(rank) dx, strips \(edge)")
            }
        }
    }
}
