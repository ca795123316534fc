import CKernels

// Max pooling of a shard stored in one of oneDNN's blocked layouts, nChw16c or nChw8c
// (see ActivationLayout): x [N, C/B, inputRows, inputCols, B], y [N, C/B, outputRows,
// outputCols, B], padded channels zero. The B channels of a pixel are one SIMD vector, so
// a window is a few vector loads and compares. Same rules as `maxpool2d_forward`
// (Pooling.swift): the first maximum in row-major window order wins, padding never does;
// `argmax` holds, per output element, the winner's pixel offset in its local input
// block-plane (row * inputCols + column). oneDNN's pooling primitive does the same work
// 2.5-3x slower at the default model's shapes (bench/run-kernels --model-only).

/// Whether `maxpool2d_forward_blocked` takes this shard: nChw16c, or nChw8c on a CPU with
/// AVX2 (its forward is a C loop: Swift's baseline build runs 8-lane selects 2.5x slower
/// than oneDNN), no window wholly in padding (only `coverAll` makes those).
public func maxpool2d_blocked_supports(_ g: Pool2DGeometry, layout: ActivationLayout) -> Bool {
    (layout == .blocked(16) || (layout == .blocked(8) && CPUFeatures.avx2)) && !g.coverAll
}

/// Max pooling forward on nChw16c or nChw8c Float storage (`layout`); see the file comment.
public func maxpool2d_forward_blocked(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, layout: ActivationLayout,
    x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>, argmax: UnsafeMutableBufferPointer<Int32>
) {
    switch layout {
    case .blocked(16): maxpoolForwardBlocked16(g, s, batch: n, x: x, y: y, argmax: argmax)
    case .blocked(8): maxpoolForwardBlocked8(g, s, batch: n, x: x, y: y, argmax: argmax)
    default: preconditionFailure("\(g.layer): the blocked max-pool takes nChw16c or nChw8c, not \(layout)")
    }
}

private func maxpoolForwardBlocked16(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int,
    x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>, argmax: UnsafeMutableBufferPointer<Int32>
) {
    let blocks = n * ActivationLayout.blocked(16).paddedChannels(g.channels) / 16
    checkBlocked(g, s, block: 16, blocks: blocks, x: x.count, y: y.count, argmax: argmax.count)
    guard let xp = x.baseAddress, let yp = y.baseAddress, let ap = argmax.baseAddress else { return }
    let inPlane = s.inputPlane, outPlane = s.outputPlane, inW = s.inputCols.count
    g.forEachWindow(s, planes: blocks) { plane, o, _, _, rows, cols in
        precondition(!rows.isEmpty && !cols.isEmpty, "\(g.layer): a window wholly in padding")
        let xb = UnsafeRawPointer(xp + plane * inPlane * 16)
        var at = Int32(rows.lowerBound * inW + cols.lowerBound)
        var best = xb.loadUnaligned(fromByteOffset: Int(at) * 64, as: SIMD16<Float>.self)
        var winner = SIMD16<Int32>(repeating: at)
        for r in rows {
            for c in cols {
                at = Int32(r * inW + c)
                let v = xb.loadUnaligned(fromByteOffset: Int(at) * 64, as: SIMD16<Float>.self)
                let better = v .> best
                best.replace(with: v, where: better)
                winner.replace(with: SIMD16(repeating: at), where: better)
            }
        }
        let out = (plane * outPlane + o) * 16
        UnsafeMutableRawPointer(yp + out).storeBytes(of: best, as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(ap + out).storeBytes(of: winner, as: SIMD16<Int32>.self)
    }
}

/// The windows' local input rows per output row and columns per output column
/// (`forEachWindow`'s, which depend only on the output row, and the column).
private func windowBounds(_ g: Pool2DGeometry, _ s: SpatialShard) -> (rowLo: [Int32], rowHi: [Int32], colLo: [Int32], colHi: [Int32]) {
    let outW = s.outputCols.count
    var rowLo = [Int32](repeating: 0, count: s.outputRows.count), rowHi = rowLo
    var colLo = [Int32](repeating: 0, count: outW), colHi = colLo
    g.forEachWindow(s, planes: 1) { _, o, _, _, rows, cols in
        precondition(!rows.isEmpty && !cols.isEmpty, "\(g.layer): a window wholly in padding")
        rowLo[o / outW] = Int32(rows.lowerBound); rowHi[o / outW] = Int32(rows.upperBound)
        colLo[o % outW] = Int32(cols.lowerBound); colHi[o % outW] = Int32(cols.upperBound)
    }
    return (rowLo, rowHi, colLo, colHi)
}

private func maxpoolForwardBlocked8(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int,
    x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>, argmax: UnsafeMutableBufferPointer<Int32>
) {
    precondition(CPUFeatures.avx2, "\(g.layer): the nChw8c max-pool needs AVX2")
    let blocks = n * ActivationLayout.blocked(8).paddedChannels(g.channels) / 8
    checkBlocked(g, s, block: 8, blocks: blocks, x: x.count, y: y.count, argmax: argmax.count)
    guard let xp = x.baseAddress, let yp = y.baseAddress, let ap = argmax.baseAddress else { return }
    let w = windowBounds(g, s)
    distconv_maxpool_forward_blocked8_avx2(xp, yp, ap, blocks, s.inputPlane, s.inputCols.count, s.outputRows.count,
                                           w.rowLo, w.rowHi, s.outputCols.count, w.colLo, w.colHi)
}

/// Max pooling backward on nChw16c or nChw8c Float storage (`layout`): overwrites `dx`
/// with `dy` routed to each window's winner (added in output order where windows overlap).
///
/// nChw16c windows that do not overlap (stride at least the kernel, as the default model's
/// 2x2/2) run on AVX-512 when the CPU has it: each window pixel is one masked store of the
/// lanes it won, and dx is zeroed first only when some pixel is in no window. The same
/// bits as the lane-by-lane scatter (tested); a vector select in Swift, which compiles
/// for SSE2 here, was 10x slower than the scatter (6f5ef3b, reverted).
public func maxpool2d_backward_blocked(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, layout: ActivationLayout,
    dy: UnsafeBufferPointer<Float>, argmax: UnsafeBufferPointer<Int32>, dx: UnsafeMutableBufferPointer<Float>
) {
    maxpool2d_backward_blocked(g, s, batch: n, layout: layout, dy: dy, argmax: argmax, dx: dx,
                               vector: layout == .blocked(16) && CPUFeatures.avx512 && g.strideH >= g.kernelHeight
                                   && g.strideW >= g.kernelWidth)
}

/// `vector` false: the lane-by-lane scatter (the AVX-512 loop's twin in the tests).
func maxpool2d_backward_blocked(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, layout: ActivationLayout,
    dy: UnsafeBufferPointer<Float>, argmax: UnsafeBufferPointer<Int32>, dx: UnsafeMutableBufferPointer<Float>,
    vector: Bool
) {
    precondition(layout == .blocked(16) || layout == .blocked(8),
                 "\(g.layer): the blocked max-pool takes nChw16c or nChw8c, not \(layout)")
    let b = layout.blockSize
    let blocks = n * layout.paddedChannels(g.channels) / b
    checkBlocked(g, s, block: b, blocks: blocks, x: dx.count, y: dy.count, argmax: argmax.count)
    guard let dxp = dx.baseAddress, let dyp = dy.baseAddress, let ap = argmax.baseAddress else {
        dx.update(repeating: 0)
        return
    }
    let inPlane = s.inputPlane, outPlane = s.outputPlane
    if vector {
        precondition(b == 16 && g.strideH >= g.kernelHeight && g.strideW >= g.kernelWidth,
                     "\(g.layer): the AVX-512 max-pool backward takes only nChw16c windows that do not overlap")
        let outW = s.outputCols.count
        let (rowLo, rowHi, colLo, colHi) = windowBounds(g, s)
        let coveredRows = zip(rowLo, rowHi).reduce(0) { $0 + Int($1.1 - $1.0) }
        let coveredCols = zip(colLo, colHi).reduce(0) { $0 + Int($1.1 - $1.0) }
        if coveredRows != s.inputRows.count || coveredCols != s.inputCols.count { dx.update(repeating: 0) }
        distconv_maxpool_backward_blocked16_disjoint_avx512(
            dyp, ap, dxp, blocks, inPlane, s.inputCols.count, s.outputRows.count, rowLo, rowHi, outW, colLo, colHi)
        return
    }
    dx.update(repeating: 0)
    for plane in 0..<blocks {
        let dxb = dxp + plane * inPlane * b
        for o in (plane * outPlane * b)..<((plane + 1) * outPlane * b) {
            dxb[Int(ap[o]) * b + o % b] += dyp[o]
        }
    }
}

private func checkBlocked(_ g: Pool2DGeometry, _ s: SpatialShard, block b: Int, blocks: Int, x: Int, y: Int, argmax: Int) {
    precondition(!g.coverAll, "\(g.layer): cover_all pooling runs on the NCHW kernels")
    precondition(s.outputRows.lowerBound >= 0 && s.outputRows.upperBound <= g.outputHeight
                 && s.outputCols.lowerBound >= 0 && s.outputCols.upperBound <= g.outputWidth,
                 "\(g.layer): output \(s.outputRows) x \(s.outputCols) outside \(g.outputHeight) x \(g.outputWidth)")
    precondition(x == blocks * b * s.inputPlane && y == blocks * b * s.outputPlane && argmax == y,
                 "\(g.layer): nChw\(b)c buffers hold x \(x), y \(y), argmax \(argmax) for \(blocks) blocks of "
                 + "\(s.inputPlane) -> \(s.outputPlane) pixels")
    checkCovers(s.inputRows, outputs: s.outputRows, kernel: g.kernelHeight, stride: g.strideH, padding: g.paddingH,
                dilation: 1, length: g.height, layer: g.layer, axis: "rows")
    checkCovers(s.inputCols, outputs: s.outputCols, kernel: g.kernelWidth, stride: g.strideW, padding: g.paddingW,
                dilation: 1, length: g.width, layer: g.layer, axis: "columns")
}
