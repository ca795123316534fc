import Geometry
import Kernels
import Testing
import TestSupport

// DNNLPooling against Pooling.swift's kernels on whole tensors and halo'd shards
// (including a read region wider than the windows need), in every layout.

struct DNNLPoolCase: CustomStringConvertible, Sendable {
    var pool: PoolCase
    var grid: ProcessGrid
    var layout: ActivationLayout
    var wholeInput = false
    var description: String { "\(pool) C\(pool.c) on \(grid) in \(layout)\(wholeInput ? " reading the whole input" : "")" }
}

let dnnlPoolShapes: [PoolCase] = [true, false].flatMap { m in [
    PoolCase(max: m, n: 2, c: 16, h: 12, w: 10, k: 2, s: 2, p: 0),
    PoolCase(max: m, n: 2, c: 3, h: 11, w: 9, k: 3, s: 2, p: 1),
    // cover_all: the last window of each axis runs one past the input.
    PoolCase(max: m, n: 1, c: 20, h: 10, w: 12, k: 3, s: 2, p: 0, coverAll: true),
] }

let dnnlPoolCases: [DNNLPoolCase] = dnnlPoolShapes.flatMap { p in
    ([ProcessGrid(shape: [1, 1, 1, 1])] + shardGrids).flatMap { g in testLayouts.map { DNNLPoolCase(pool: p, grid: g, layout: $0) } }
} + dnnlPoolShapes.map { DNNLPoolCase(pool: $0, grid: ProcessGrid(shape: [1, 1, 2, 2]), layout: .blocked(16), wholeInput: true) }

@Suite struct DNNLPoolingTests {
    @Test(arguments: dnnlPoolCases)
    func matchesThePoolingKernels(_ pc: DNNLPoolCase) throws {
        let p = pc.pool
        let g = try p.geometry()
        var rng = SplitMix64(seed: 3)
        let xShape = [p.n, p.c, p.h, p.w], yShape = [p.n, p.c, g.outputHeight, g.outputWidth]
        let x: [Float] = randomValues(xShape.reduce(1, *), &rng)
        let dy: [Float] = randomValues(yShape.reduce(1, *), &rng)
        for rank in 0..<pc.grid.count {
            let out = pc.grid.block(of: Rect(shape: yShape), rank: rank)
            let inp = pc.wholeInput ? Rect(shape: xShape) : inputRect(
                for: out, batch: p.n, channels: p.c, height: p.h, width: p.w, kernel: (p.k, p.k), stride: (p.s, p.s), padding: (p.p, p.p))
            let s = SpatialShard(input: inp, output: out)
            let xl = extract(x, shape: xShape, rect: inp), dyl = extract(dy, shape: yShape, rect: out)
            let reference = PoolRun<Float>(g: g, s: s, n: p.n, max: p.max)
            let yRef = reference.forward(xl).y, dxRef = reference.backward(xl, dy: dyl)

            let pool = try DNNLPooling(g, s, batch: p.n, kind: p.max ? .max : .average, layout: pc.layout)
            let inRows = s.inputRows.count, inCols = s.inputCols.count, outRows = s.outputRows.count, outCols = s.outputCols.count
            let xb = toLayout(xl, n: p.n, c: p.c, h: inRows, w: inCols, pc.layout)
            let dyb = toLayout(dyl, n: p.n, c: p.c, h: outRows, w: outCols, pc.layout)
            var yb = [Float](repeating: .nan, count: pool.outputCount), dxb = [Float](repeating: .nan, count: pool.inputCount)
            var ws = [UInt8](repeating: 0, count: pool.workspaceBytes)
            xb.withUnsafeBufferPointer { xp in
                yb.withUnsafeMutableBufferPointer { yp in
                    ws.withUnsafeMutableBytes { pool.forward(x: xp, y: yp, workspace: p.max ? $0 : nil) }
                }
            }
            dyb.withUnsafeBufferPointer { dyp in
                dxb.withUnsafeMutableBufferPointer { dxp in
                    ws.withUnsafeBytes { pool.backward(dy: dyp, workspace: p.max ? $0 : nil, dx: dxp) }
                }
            }
            let y = fromLayout(yb, n: p.n, c: p.c, h: outRows, w: outCols, pc.layout)
            let dx = fromLayout(dxb, n: p.n, c: p.c, h: inRows, w: inCols, pc.layout)
            let what = "\(pc) rank \(rank) [\(pool.implementations)]"
            if p.max {
                // A max picks one value: exact. Its gradient adds the dy of the windows a
                // value wins, in an order that may differ.
                #expect(y == yRef, "\(what) forward: \(relativeError(y, yRef))")
            } else {
                #expect(relativeError(y, yRef) <= 1e-6, "\(what) forward: \(relativeError(y, yRef))")
            }
            #expect(relativeError(dx, dxRef) <= 1e-6, "\(what) dx: \(relativeError(dx, dxRef))")
            #expect(paddedChannelValues(dxb, n: p.n, c: p.c, h: inRows, w: inCols, pc.layout).allSatisfy { $0 == 0 }, "\(what) dx padding")
        }
    }
}
