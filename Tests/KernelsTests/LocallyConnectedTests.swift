import Geometry
import Kernels
import Testing
import TestSupport

/// Naive twin, canonical weights, straight from DESIGN.md §4:
/// out[n, co, ty*SY+sy, tx*SX+sx] = sum W[co, sy, sx, ci, kh, kw, ty, tx] * in[n, ci, ty*S+kh, tx*S+kw].
func naiveLCTerms(_ g: LocallyConnectedGeometry, batch n: Int, _ body: (Int, Int, Int) -> Void) {
    let oh = g.outputHeight, ow = g.outputWidth
    for img in 0..<n { for co in 0..<g.outChannels { for ty in 0..<g.tilesY { for tx in 0..<g.tilesX {
        for sy in 0..<g.tileHeight { for sx in 0..<g.tileWidth {
            let yi = ((img * g.outChannels + co) * oh + ty * g.tileHeight + sy) * ow + tx * g.tileWidth + sx
            for ci in 0..<g.inChannels { for kh in 0..<g.kernelHeight { for kw in 0..<g.kernelWidth {
                let xi = ((img * g.inChannels + ci) * g.height + ty * g.tileStride + kh) * g.width + tx * g.tileStride + kw
                var wi = (co * g.tileHeight + sy) * g.tileWidth + sx
                wi = ((wi * g.inChannels + ci) * g.kernelHeight + kh) * g.kernelWidth + kw
                wi = (wi * g.tilesY + ty) * g.tilesX + tx
                body(yi, xi, wi)
            } } }
        } }
    } } } }
}

/// The LC kernels on arrays with canonical weights (packed and unpacked around them).
struct LCRun<T: GEMMScalar> {
    let g: LocallyConnectedGeometry
    let s: TileShard
    let n: Int

    func packed(_ w: [T]) -> [T] {
        var p = [T](repeating: 0, count: w.count)
        w.withUnsafeBufferPointer { wp in p.withUnsafeMutableBufferPointer { locally_connected_pack_weights(g, tiles: s.tiles, weight: wp, packed: $0) } }
        return p
    }

    func forward(x: [T], w: [T]) -> [T] {
        let wp = packed(w)
        var y = [T](repeating: 0, count: n * g.tileOutputs * s.tiles)
        var ws = [T](repeating: 0, count: locally_connected_workspace_count(g, batch: n))
        x.withUnsafeBufferPointer { xp in wp.withUnsafeBufferPointer { wpp in y.withUnsafeMutableBufferPointer { yp in
            ws.withUnsafeMutableBufferPointer { locally_connected_forward(g, s, batch: n, x: xp, packedWeight: wpp, y: yp, workspace: $0) }
        } } }
        return y
    }

    func backward(x: [T], w: [T], dy: [T]) -> (dx: [T], dw: [T]) {
        let wp = packed(w)
        var dx = [T](repeating: 1, count: x.count), dwp = [T](repeating: 0, count: w.count), dw = [T](repeating: 0, count: w.count)
        var ws = [T](repeating: 0, count: locally_connected_workspace_count(g, batch: n))
        dy.withUnsafeBufferPointer { dyp in ws.withUnsafeMutableBufferPointer { wsp in
            wp.withUnsafeBufferPointer { wpp in
                dx.withUnsafeMutableBufferPointer { locally_connected_backward_data(g, s, batch: n, dy: dyp, packedWeight: wpp, dx: $0, workspace: wsp) }
            }
            x.withUnsafeBufferPointer { xp in
                dwp.withUnsafeMutableBufferPointer { locally_connected_backward_filter(g, s, batch: n, x: xp, dy: dyp, dpackedWeight: $0, workspace: wsp) }
            }
        } }
        dwp.withUnsafeBufferPointer { p in dw.withUnsafeMutableBufferPointer { locally_connected_unpack_add(g, tiles: s.tiles, packed: p, into: $0) } }
        return (dx, dw)
    }
}

func smallLC() throws -> LocallyConnectedGeometry {
    // Odd, non-square everything; one input row and column no tile reads.
    try LocallyConnectedGeometry(inChannels: 2, outChannels: 3, height: 6, width: 7, kernelHeight: 3, kernelWidth: 2,
                                 tileStride: 2, tileHeight: 2, tileWidth: 3, tilesY: 2, tilesX: 3)
}

@Suite struct LocallyConnectedTests {
    @Test func referenceLayersHaveTheDumpShapes() throws {
        let l0 = try LocallyConnectedGeometry(layer: "L0", inChannels: 1, outChannels: 16, height: 41, width: 41, kernelHeight: 10,
                                              kernelWidth: 10, tileStride: 2, tileHeight: 4, tileWidth: 4, tilesY: 16, tilesX: 16)
        #expect(l0.outputHeight == 64 && l0.outputWidth == 64)
        let l1 = try LocallyConnectedGeometry(layer: "L1", inChannels: 16, outChannels: 16, height: 64, width: 64, kernelHeight: 10,
                                              kernelWidth: 10, tileStride: 2, tileHeight: 4, tileWidth: 4, tilesY: 28, tilesX: 28)
        #expect(l1.outputHeight == 112 && l1.weightCount(tiles: 28 * 28) == 16 * 4 * 4 * 16 * 10 * 10 * 28 * 28)
        #expect(throws: KernelShapeError.tilesExceedInput(layer: "L1", axis: "height", tiles: 29, tileStride: 2, kernel: 10, input: 64)) {
            try LocallyConnectedGeometry(layer: "L1", inChannels: 16, outChannels: 16, height: 64, width: 64, kernelHeight: 10,
                                         kernelWidth: 10, tileStride: 2, tileHeight: 4, tileWidth: 4, tilesY: 29, tilesX: 28)
        }
    }

    @Test func matchesNaiveTwinAndCentralDifferences() throws {
        let g = try smallLC(), n = 2
        var rng = SplitMix64(seed: 31)
        let x: [Double] = randomValues(n * g.inChannels * g.height * g.width, &rng)
        let w: [Double] = randomValues(g.weightCount(tiles: g.tilesY * g.tilesX), &rng)
        let r: [Double] = randomValues(n * g.outChannels * g.outputHeight * g.outputWidth, &rng)
        let run = LCRun<Double>(g: g, s: .whole(g), n: n)
        var y = [Double](repeating: 0, count: r.count)
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
        naiveLCTerms(g, batch: n) { yi, xi, wi in
            y[yi] += w[wi] * x[xi]
            dx[xi] += w[wi] * r[yi]
            dw[wi] += x[xi] * r[yi]
        }
        assertClose(run.forward(x: x, w: w), y, rtol: 1e-12, atol: 1e-12, "forward vs naive")
        let analytic = run.backward(x: x, w: w, dy: r)
        assertClose(analytic.dx, dx, rtol: 1e-12, atol: 1e-12, "dx vs naive")
        assertClose(analytic.dw, dw, rtol: 1e-12, atol: 1e-12, "dw vs naive")
        let nx = numericGradient(x) { dot(r, run.forward(x: $0, w: w)) }
        let nw = numericGradient(w) { dot(r, run.forward(x: x, w: $0)) }
        expectGradient("LC dx", analytic: analytic.dx, numeric: nx, bound: doubleGradientBound)
        expectGradient("LC dW", analytic: analytic.dw, numeric: nw, bound: doubleGradientBound)
        let fa = LCRun<Float>(g: g, s: .whole(g), n: n).backward(x: toFloat(x), w: toFloat(w), dy: toFloat(r))
        expectGradient("LC dx (Float)", analytic: fa.dx, numeric: nx, bound: floatGradientBound)
        expectGradient("LC dW (Float)", analytic: fa.dw, numeric: nw, bound: floatGradientBound)
    }

    @Test(arguments: [ProcessGrid(shape: [2, 2]), ProcessGrid(shape: [3, 1]), ProcessGrid(shape: [1, 3])])
    func tileShardsAssembleToTheWhole(_ grid: ProcessGrid) throws {
        // L0-like: one input channel, 5x4 tiles of 2x2 outputs, 4x4 kernel, stride 2, a spare row.
        let g = try LocallyConnectedGeometry(inChannels: 1, outChannels: 4, height: 13, width: 10, kernelHeight: 4, kernelWidth: 4,
                                             tileStride: 2, tileHeight: 2, tileWidth: 2, tilesY: 5, tilesX: 4)
        let n = 3, rk = g.tileOutputs * g.patchSize
        var rng = SplitMix64(seed: 32)
        let xShape = [n, 1, g.height, g.width], yShape = [n, g.outChannels, g.outputHeight, g.outputWidth], wShape = [rk, g.tilesY, g.tilesX]
        let x: [Float] = randomValues(xShape.reduce(1, *), &rng)
        let w: [Float] = randomValues(wShape.reduce(1, *), &rng)
        let dy: [Float] = randomValues(yShape.reduce(1, *), &rng)
        let whole = LCRun<Float>(g: g, s: .whole(g), n: n)
        let y = whole.forward(x: x, w: w), grads = whole.backward(x: x, w: w, dy: dy)
        var yA = [Float](repeating: .nan, count: y.count), dxA = [Float](repeating: 0, count: x.count), dwA = [Float](repeating: .nan, count: w.count)
        for rank in 0..<grid.count {
            let tiles = grid.block(of: Rect(shape: [g.tilesY, g.tilesX]), rank: rank)
            let rows = receptiveField(of: tiles.range(0), kernel: g.kernelHeight, stride: g.tileStride, padding: 0, inputLength: g.height)
            let cols = receptiveField(of: tiles.range(1), kernel: g.kernelWidth, stride: g.tileStride, padding: 0, inputLength: g.width)
            let s = TileShard(tileRows: tiles.range(0), tileCols: tiles.range(1), inputRows: rows, inputCols: cols)
            let inRect = Rect(origin: [0, 0, rows.lowerBound, cols.lowerBound], size: [n, 1, rows.count, cols.count])
            let outRect = Rect(origin: [0, 0, tiles.origin[0] * g.tileHeight, tiles.origin[1] * g.tileWidth],
                               size: [n, g.outChannels, tiles.size[0] * g.tileHeight, tiles.size[1] * g.tileWidth])
            let wRect = Rect(origin: [0, tiles.origin[0], tiles.origin[1]], size: [rk, tiles.size[0], tiles.size[1]])
            let run = LCRun<Float>(g: g, s: s, n: n)
            let xl = extract(x, shape: xShape, rect: inRect), wl = extract(w, shape: wShape, rect: wRect)
            putBlock(run.forward(x: xl, w: wl), into: &yA, shape: yShape, rect: outRect)
            let local = run.backward(x: xl, w: wl, dy: extract(dy, shape: yShape, rect: outRect))
            addBlock(local.dx, into: &dxA, shape: xShape, rect: inRect)
            putBlock(local.dw, into: &dwA, shape: wShape, rect: wRect)
        }
        let bitwise = yA == y && dwA == grads.dw
        #expect(relativeError(yA, y) <= 1e-5 && relativeError(dxA, grads.dx) <= 1e-5 && relativeError(dwA, grads.dw) <= 1e-5)
        print("LC shards \(grid): forward \(relativeError(yA, y)), dx \(relativeError(dxA, grads.dx)), dW \(relativeError(dwA, grads.dw)); forward and dW bitwise: \(bitwise)")
    }
}
