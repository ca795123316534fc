// Tiled locally connected layer on a shard of tiles, one GEMM per tile.
//
// N = batch (local), C = in channels, F = out channels, R = F*SY*SX (a tile's outputs),
// K = C*KH*KW (a tile's inputs), T = tiles of the shard (tileRows x tileCols).
// input  x  [N, C, inputRows, inputCols]          (covers the tiles' receptive field)
// weight    [F, SY, SX, C, KH, KW, TYs, TXs]       canonical (the dump's layout, sharded)
// packed wp [TYs, TXs, R, K]                       what the kernels read: a tile's weights
//                                                  as one contiguous R x K matrix
// output y  [N, F, TYs*SY, TXs*SX]
// Per tile: P[N, K] = the tile's patches (gathered), Y_t[N, R] = P * W_t^T, scattered
// into y. The canonical layout keeps the tile indices last, so a tile's matrix is not a
// strided BLAS operand; packing once per weight update (and unpacking gradients once
// per step) costs a transpose of the weights instead of one per pass. Better still, a
// layer can keep its weights, gradients and optimizer state packed and convert only at
// checkpoints (the weights are the layer's bulk: L1's are 1.28 GB).

/// Workspace elements for the locally connected kernels: one tile's patch matrix and
/// output block, `N*K + N*R`.
public func locally_connected_workspace_count(_ g: LocallyConnectedGeometry, batch n: Int) -> Int {
    n * (g.patchSize + g.tileOutputs)
}

/// Rearranges canonical weights [R*K, T] into packed [T, R*K] (`tiles` = T of the shard).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func locally_connected_pack_weights<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, tiles: Int, weight w: UnsafeBufferPointer<T>, packed: UnsafeMutableBufferPointer<T>
) {
    let rk = g.tileOutputs * g.patchSize
    precondition(w.count == rk * tiles && packed.count == w.count,
                 "\(g.layer): pack \(w.count) into \(packed.count), expected \(rk) x \(tiles)")
    // Blocks of 256 canonical rows by 16 tiles: reads take whole cache lines (16 tiles
    // of a row) and each tile's writes fill 1 KB runs, which keeps TLB misses (tiles are
    // a weight matrix apart) per byte low.
    let blockRows = 256, blockTiles = 16
    for r0 in stride(from: 0, to: rk, by: blockRows) {
        let r1 = Swift.min(r0 + blockRows, rk)
        for t0 in stride(from: 0, to: tiles, by: blockTiles) {
            let t1 = Swift.min(t0 + blockTiles, tiles)
            // The block's 256 x 16 source lines stay in L1 while each tile's run is written.
            for t in t0..<t1 {
                for r in r0..<r1 { packed[t &* rk &+ r] = w[r &* tiles &+ t] }
            }
        }
    }
}

/// Adds packed gradients [T, R*K] into canonical ones [R*K, T].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func locally_connected_unpack_add<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, tiles: Int, packed: UnsafeBufferPointer<T>, into w: UnsafeMutableBufferPointer<T>
) {
    let rk = g.tileOutputs * g.patchSize
    precondition(w.count == rk * tiles && packed.count == w.count,
                 "\(g.layer): unpack \(packed.count) into \(w.count), expected \(rk) x \(tiles)")
    let blockRows = 256, blockTiles = 16
    for r0 in stride(from: 0, to: rk, by: blockRows) {
        let r1 = Swift.min(r0 + blockRows, rk)
        for t0 in stride(from: 0, to: tiles, by: blockTiles) {
            let t1 = Swift.min(t0 + blockTiles, tiles)
            for t in t0..<t1 {
                for r in r0..<r1 { w[r &* tiles &+ t] += packed[t &* rk &+ r] }
            }
        }
    }
}

private func checkTiles(_ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int, x: Int, w: Int, y: Int) {
    precondition(s.tileRows.lowerBound >= 0 && s.tileRows.upperBound <= g.tilesY
                 && s.tileCols.lowerBound >= 0 && s.tileCols.upperBound <= g.tilesX,
                 "\(g.layer): tiles \(s.tileRows) x \(s.tileCols) outside \(g.tilesY) x \(g.tilesX)")
    if s.tiles > 0 {
        let rowsNeeded = (s.tileRows.lowerBound * g.tileStride)..<((s.tileRows.upperBound - 1) * g.tileStride + g.kernelHeight)
        let colsNeeded = (s.tileCols.lowerBound * g.tileStride)..<((s.tileCols.upperBound - 1) * g.tileStride + g.kernelWidth)
        precondition(s.inputRows.lowerBound <= rowsNeeded.lowerBound && rowsNeeded.upperBound <= s.inputRows.upperBound
                     && s.inputCols.lowerBound <= colsNeeded.lowerBound && colsNeeded.upperBound <= s.inputCols.upperBound,
                     "\(g.layer): local input \(s.inputRows) x \(s.inputCols) does not cover \(rowsNeeded) x \(colsNeeded)")
    }
    precondition(x == n * g.inChannels * s.inputPlane,
                 "\(g.layer): input holds \(x), expected \(n) x \(g.inChannels) x \(s.inputRows.count) x \(s.inputCols.count)")
    precondition(w == g.weightCount(tiles: s.tiles), "\(g.layer): weights hold \(w), expected \(g.weightCount(tiles: s.tiles))")
    precondition(y == n * g.tileOutputs * s.tiles,
                 "\(g.layer): output holds \(y), expected \(n) x \(g.outChannels) x \(s.tileRows.count * g.tileHeight) x \(s.tileCols.count * g.tileWidth)")
}

/// Gathers the patches of tile (ty, tx) (global indices) into p[N, K].
@inline(__always)
private func gatherPatches<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int, ty: Int, tx: Int,
    x: UnsafePointer<T>, p: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, plane = s.inputPlane, kw = g.kernelWidth
    let r0 = ty * g.tileStride - s.inputRows.lowerBound, c0 = tx * g.tileStride - s.inputCols.lowerBound
    var q = p
    for img in 0..<n {
        for ci in 0..<g.inChannels {
            let base = x + (img * g.inChannels + ci) * plane + r0 * inW + c0
            for kh in 0..<g.kernelHeight {
                q.update(from: base + kh * inW, count: kw)
                q += kw
            }
        }
    }
}

/// Adds p[N, K], laid out as `gatherPatches` makes it, back into the input gradient
/// (tiles overlap when the tile stride is below the kernel, so this adds).
@inline(__always)
private func scatterAddPatches<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int, ty: Int, tx: Int,
    p: UnsafePointer<T>, dx: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, plane = s.inputPlane, kw = g.kernelWidth
    let r0 = ty * g.tileStride - s.inputRows.lowerBound, c0 = tx * g.tileStride - s.inputCols.lowerBound
    var q = p
    for img in 0..<n {
        for ci in 0..<g.inChannels {
            let base = dx + (img * g.inChannels + ci) * plane + r0 * inW + c0
            for kh in 0..<g.kernelHeight {
                let row = base + kh * inW
                var i = 0
                while i < kw { row[i] += q[i]; i &+= 1 }
                q += kw
            }
        }
    }
}

/// Writes a tile's outputs t[N, R] (R = F*SY*SX) into the output buffer [N, F, rows, cols].
@inline(__always)
private func scatterTile<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int, tyl: Int, txl: Int,
    t: UnsafePointer<T>, y: UnsafeMutablePointer<T>
) {
    let outW = s.tileCols.count * g.tileWidth, plane = s.tileRows.count * g.tileHeight * outW
    var q = t
    for img in 0..<n {
        for f in 0..<g.outChannels {
            for sy in 0..<g.tileHeight {
                let row = y + (img * g.outChannels + f) * plane + (tyl * g.tileHeight + sy) * outW + txl * g.tileWidth
                row.update(from: q, count: g.tileWidth)
                q += g.tileWidth
            }
        }
    }
}

/// Reads a tile's output gradients from dy [N, F, rows, cols] into t[N, R].
@inline(__always)
private func gatherTile<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int, tyl: Int, txl: Int,
    dy: UnsafePointer<T>, t: UnsafeMutablePointer<T>
) {
    let outW = s.tileCols.count * g.tileWidth, plane = s.tileRows.count * g.tileHeight * outW
    var q = t
    for img in 0..<n {
        for f in 0..<g.outChannels {
            for sy in 0..<g.tileHeight {
                q.update(from: dy + (img * g.outChannels + f) * plane + (tyl * g.tileHeight + sy) * outW + txl * g.tileWidth,
                         count: g.tileWidth)
                q += g.tileWidth
            }
        }
    }
}

/// Forward pass of a shard of tiles: writes `y` [N, F, TYs*SY, TXs*SX] from packed weights.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func locally_connected_forward<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int,
    x: UnsafeBufferPointer<T>, packedWeight wp: UnsafeBufferPointer<T>,
    y: UnsafeMutableBufferPointer<T>, workspace: UnsafeMutableBufferPointer<T>
) {
    checkTiles(g, s, batch: n, x: x.count, w: wp.count, y: y.count)
    precondition(workspace.count >= locally_connected_workspace_count(g, batch: n), "\(g.layer): workspace too small")
    guard n > 0, s.tiles > 0, let xp = x.baseAddress, let wpp = wp.baseAddress, let yp = y.baseAddress,
          let p = workspace.baseAddress else { return }
    let r = g.tileOutputs, k = g.patchSize
    let yt = p + n * k
    for tyl in 0..<s.tileRows.count {
        for txl in 0..<s.tileCols.count {
            let t = tyl * s.tileCols.count + txl
            gatherPatches(g, s, batch: n, ty: s.tileRows.lowerBound + tyl, tx: s.tileCols.lowerBound + txl, x: xp, p: p)
            T.gemm(transA: false, transB: true, m: n, n: r, k: k, alpha: 1, p, lda: k, wpp + t * r * k, ldb: k,
                   beta: 0, yt, ldc: r)
            scatterTile(g, s, batch: n, tyl: tyl, txl: txl, t: yt, y: yp)
        }
    }
}

/// Gradient with respect to the local input (halo included): overwrites `dx`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func locally_connected_backward_data<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int,
    dy: UnsafeBufferPointer<T>, packedWeight wp: UnsafeBufferPointer<T>,
    dx: UnsafeMutableBufferPointer<T>, workspace: UnsafeMutableBufferPointer<T>
) {
    checkTiles(g, s, batch: n, x: dx.count, w: wp.count, y: dy.count)
    precondition(workspace.count >= locally_connected_workspace_count(g, batch: n), "\(g.layer): workspace too small")
    guard let dxp = dx.baseAddress else { return }
    dxp.update(repeating: 0, count: dx.count)
    guard n > 0, s.tiles > 0, let dyp = dy.baseAddress, let wpp = wp.baseAddress, let p = workspace.baseAddress
    else { return }
    let r = g.tileOutputs, k = g.patchSize
    let dyt = p + n * k
    for tyl in 0..<s.tileRows.count {
        for txl in 0..<s.tileCols.count {
            let t = tyl * s.tileCols.count + txl
            gatherTile(g, s, batch: n, tyl: tyl, txl: txl, dy: dyp, t: dyt)
            // dP[N, K] = dY_t[N, R] * W_t[R, K]
            T.gemm(transA: false, transB: false, m: n, n: k, k: r, alpha: 1, dyt, lda: r, wpp + t * r * k, ldb: k,
                   beta: 0, p, ldc: k)
            scatterAddPatches(g, s, batch: n, ty: s.tileRows.lowerBound + tyl, tx: s.tileCols.lowerBound + txl, p: p, dx: dxp)
        }
    }
}

/// Gradient with respect to the packed weights: adds into `dpacked` [T, R, K].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func locally_connected_backward_filter<T: GEMMScalar>(
    _ g: LocallyConnectedGeometry, _ s: TileShard, batch n: Int,
    x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>,
    dpackedWeight dwp: UnsafeMutableBufferPointer<T>, workspace: UnsafeMutableBufferPointer<T>
) {
    checkTiles(g, s, batch: n, x: x.count, w: dwp.count, y: dy.count)
    precondition(workspace.count >= locally_connected_workspace_count(g, batch: n), "\(g.layer): workspace too small")
    guard n > 0, s.tiles > 0, let xp = x.baseAddress, let dyp = dy.baseAddress, let dwpp = dwp.baseAddress,
          let p = workspace.baseAddress else { return }
    let r = g.tileOutputs, k = g.patchSize
    let dyt = p + n * k
    for tyl in 0..<s.tileRows.count {
        for txl in 0..<s.tileCols.count {
            let t = tyl * s.tileCols.count + txl
            gatherPatches(g, s, batch: n, ty: s.tileRows.lowerBound + tyl, tx: s.tileCols.lowerBound + txl, x: xp, p: p)
            gatherTile(g, s, batch: n, tyl: tyl, txl: txl, dy: dyp, t: dyt)
            // dW_t[R, K] += dY_t^T [R, N] * P[N, K]
            T.gemm(transA: true, transB: false, m: r, n: k, k: n, alpha: 1, dyt, lda: r, p, ldb: k,
                   beta: 1, dwpp + t * r * k, ldc: k)
        }
    }
}
