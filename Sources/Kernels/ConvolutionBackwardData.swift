// Backward-data of the 2-D convolution on a shard (shapes in Convolution.swift).
//
// dx[n, c, iy, ix] = sum_{f in group(c), kh, kw} w[f, c, kh, kw] * dy[n, f, oy, ox]
//   with iy = oy*sh - ph + kh*dh (columns alike), over this shard's outputs only.
// Two forms:
// - stride 1: dx is itself a convolution (a correlation) of dy, zero outside the
//   shard's output rect, with the flipped and transposed filters
//   w'[c, f, kh', kw'] = w[f, c, KH-1-kh', KW-1-kw'] and padding (KH-1)*dh - ph, shifted
//   by the halo; so it runs as im2col + GEMM of the forward's shape;
// - otherwise (or when a group has more output than input channels, see
//   `transposedPlan`): dcol = w^T * dy (GEMM), then col2im adds dcol into dx.

/// Elements of one group's flipped filters: `C/G * F/G * KH * KW`.
func flippedFilterCount(_ g: Conv2DGeometry) -> Int {
    g.groupInChannels * g.groupOutChannels * g.kernelHeight * g.kernelWidth
}

/// The stride-1 form: the convolution dy -> dx in dy-local coordinates (dy's local rows
/// and columns start at 0; the shard's dx rows and columns are its outputs), and the
/// workspace it needs. Nil when the form does not apply, or when a group has more
/// output channels than input channels: its patch matrix (F/G*KH*KW rows, copied from
/// dy) is then larger than the GEMM + col2im form's (C/G*KH*KW rows, added into dx),
/// and that form measured faster (the default model's conv2, 16 -> 32, in
/// bench/run-kernels --model-only; the benchmark's 16 -> 16 keeps this form).
struct TransposedPlan {
    var t: Conv2DGeometry
    var ts: SpatialShard
    /// dy is first copied at dx's width, so patch rows are contiguous runs of it.
    var repitch: Bool
    /// Workspace before the bands: one group's flipped filters, and dy re-laid.
    var fixed: Int
    /// Workspace per dx row of a band.
    var rowCost: Int
}

func transposedPlan(_ g: Conv2DGeometry, _ s: SpatialShard) -> TransposedPlan? {
    guard g.strideH == 1 && g.strideW == 1 && g.groupOutChannels <= g.groupInChannels else { return nil }
    let ph = (g.kernelHeight - 1) * g.dilationH - g.paddingH + s.outputRows.lowerBound - s.inputRows.lowerBound
    let pw = (g.kernelWidth - 1) * g.dilationW - g.paddingW + s.outputCols.lowerBound - s.inputCols.lowerBound
    guard ph >= 0 && pw >= 0 else { return nil }
    let inW = s.inputCols.count, outW = s.outputCols.count, outH = s.outputRows.count
    let repitch = inW > outW
    let t = Conv2DGeometry(
        uncheckedLayer: g.layer, inChannels: g.outChannels, outChannels: g.inChannels, groups: g.groups,
        height: outH, width: outW, kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
        paddingH: ph, paddingW: pw, dilationH: g.dilationH, dilationW: g.dilationW)
    let ts = SpatialShard(inputRows: 0..<outH, inputCols: 0..<(repitch ? inW : outW),
                          outputRows: 0..<s.inputRows.count, outputCols: 0..<inW)
    // The GEMM writes dx directly, so its patch matrix must be pitched at dx's width.
    let rowCost = g.groupOutChannels * g.kernelHeight * g.kernelWidth * inW
    guard colPitch(t, ts) == inW, rowCost > 0 else { return nil }
    let fixed = flippedFilterCount(g) + (repitch ? g.groupOutChannels * outH * inW : 0)
    return TransposedPlan(t: t, ts: ts, repitch: repitch, fixed: fixed, rowCost: rowCost)
}

/// Gradient with respect to the shard's local input (halo included): overwrites `dx`
/// [N, C, inputRows, inputCols] with the sum over this block's output channels. The
/// caller adds halo parts into their owners (and sums over output-channel blocks).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func conv2d_backward_data<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, outChannels block: Range<Int>? = nil,
    dy: UnsafeBufferPointer<T>, weight w: UnsafeBufferPointer<T>,
    dx: UnsafeMutableBufferPointer<T>, workspace: UnsafeMutableBufferPointer<T>
) {
    let block = block ?? 0..<g.outChannels
    checkShard(g, s, batch: n, block: block, input: dx.count, weight: w.count, output: dy.count)
    guard let dxp = dx.baseAddress else { return }
    guard n > 0, s.outputPlane > 0, block.count > 0, let dyp = dy.baseAddress, let wp = w.baseAddress,
          let ws = workspace.baseAddress
    else {
        dxp.update(repeating: 0, count: dx.count)
        return
    }
    let taps = g.kernelHeight * g.kernelWidth
    if let plan = transposedPlan(g, s), workspace.count >= plan.fixed + plan.rowCost {
        // Groups the block misses get no gradient; the GEMMs overwrite the others.
        if block != 0..<g.outChannels { dxp.update(repeating: 0, count: dx.count) }
        let wt = ws, dyRelaid = ws + flippedFilterCount(g), col = ws + plan.fixed
        let band = Swift.max(1, Swift.min(s.inputRows.count, (workspace.count - plan.fixed) / plan.rowCost))
        let cg = g.groupInChannels, inW = s.inputCols.count, outW = s.outputCols.count
        let outPlane = s.outputPlane, f = block.count
        forEachGroup(g, block) { group, local in
            // w'_g[c, (f', kh', kw')] = w[f, c, KH-1-kh', KW-1-kw'] for the block's f in this group.
            let kt = local.count * taps
            for c in 0..<cg {
                for fl in 0..<local.count {
                    let src = wp + (local.lowerBound + fl) * g.patchSize + c * taps
                    let dst = wt + c * kt + fl * taps
                    for tap in 0..<taps { dst[tap] = src[taps - 1 - tap] }
                }
            }
            for img in 0..<n {
                var src = dyp + (img * f + local.lowerBound) * outPlane
                if plan.repitch {
                    for row in 0..<(local.count * s.outputRows.count) {
                        let dst = dyRelaid + row * inW
                        dst.update(from: src + row * outW, count: outW)
                        (dst + outW).update(repeating: 0, count: inW - outW)
                    }
                    src = UnsafePointer(dyRelaid)
                }
                for r0 in stride(from: 0, to: s.inputRows.count, by: band) {
                    let rows = r0..<Swift.min(r0 + band, s.inputRows.count)
                    let cols = rows.count * inW
                    im2col(plan.t, plan.ts, x: src, channels: local.count, rows: rows, col: col)
                    T.gemm(transA: false, transB: false, m: cg, n: cols, k: kt, alpha: 1, wt, lda: kt, col, ldb: cols,
                           beta: 0, dxp + (img * g.inChannels + group * cg) * s.inputPlane + r0 * inW, ldc: s.inputPlane)
                }
            }
        }
        return
    }
    dxp.update(repeating: 0, count: dx.count)
    let k = g.patchSize, outW = s.outputCols.count, outPlane = s.outputPlane, f = block.count
    let band = bandRows(g, s, workspace.count)
    for img in 0..<n {
        for r0 in stride(from: 0, to: s.outputRows.count, by: band) {
            let rows = (s.outputRows.lowerBound + r0)..<(s.outputRows.lowerBound + Swift.min(r0 + band, s.outputRows.count))
            let cols = rows.count * outW
            let dy0 = dyp + img * f * outPlane + r0 * outW
            forEachGroup(g, block) { group, local in
                // dcol[K, cols] = w_g^T [K, F_g] * dy_g [F_g, cols]
                T.gemm(transA: true, transB: false, m: k, n: cols, k: local.count,
                       alpha: 1, wp + local.lowerBound * k, lda: k, dy0 + local.lowerBound * outPlane, ldb: outPlane,
                       beta: 0, ws, ldc: cols)
                col2im(g, s, col: ws, channels: g.groupInChannels, rows: rows,
                       dx: dxp + (img * g.inChannels + group * g.groupInChannels) * s.inputPlane)
            }
        }
    }
}
