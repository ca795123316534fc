// 2-D convolution on a shard with a halo, im2col + GEMM.
//
// N = batch (local), C = input channels, F = output channels of the block computed
// (`outChannels`, all of them by default), G = groups, K = C/G * KH * KW (patch size),
// input  x  [N, C, inputRows, inputCols]   (the shard's read region, global rows/cols)
// weight w  [F, C/G, KH, KW]               (filters of the block only)
// bias   b  [F]
// output y  [N, F, outputRows, outputCols] (the shard's write region)
// y[n, f, oy, ox] = b[f] + sum_{c in group(f), kh, kw} w[f, c, kh, kw] * x[n, c, oy*sh - ph + kh*dh, ox*sw - pw + kw*dw]
//
// Work goes in bands of output rows so the patch matrix of a band stays near the core;
// the workspace size picks the band height (at least one row). Backward-data is in
// ConvolutionBackwardData.swift.

/// Workspace elements for the convolution kernels on `shard`: a band of about `budget`
/// elements (never less than one row) for each kernel's im2col form, and for
/// backward-data at stride 1 the flipped filters of a group and, when the shard's input
/// is wider than its output, dy re-laid at the input's width. The default (2 MB of
/// Float) measured best on the benchmark shape: bands of a few rows leave sgemm short
/// panels.
public func conv2d_workspace_count(_ g: Conv2DGeometry, _ shard: SpatialShard, budget: Int = 1 << 19) -> Int {
    let forward = forwardRowCost(g, shard)
    guard forward > 0 else { return 0 }
    let rows = Swift.max(1, Swift.min(shard.outputRows.count, budget / forward))
    var count = rows * forward
    if let t = transposedPlan(g, shard) {
        let tRows = Swift.max(1, Swift.min(shard.inputRows.count, budget / t.rowCost))
        count = Swift.max(count, t.fixed + tRows * t.rowCost)
    }
    return count
}

/// How the kernels split a shard for a workspace: the GEMMs they run, for benchmarks
/// that time sgemm on the same shapes.
public struct Conv2DBands: Hashable, Sendable {
    /// Output rows per band of forward and backward-filter, and patch-matrix columns
    /// per output row (the output width, or at stride 1 the input's width).
    public var forwardRows: Int
    public var forwardPitch: Int
    /// Rows of dx per band of backward-data when it runs as a transposed convolution
    /// (GEMM `C/G x rows*pitch x F/G*KH*KW`), or nil when it runs as GEMM + col2im on the
    /// forward bands.
    public var transposedRows: Int?
    public var transposedPitch: Int
}

/// The bands `conv2d_*` use with a workspace of `workspace` elements.
public func conv2d_bands(_ g: Conv2DGeometry, _ s: SpatialShard, workspace: Int) -> Conv2DBands {
    var bands = Conv2DBands(forwardRows: bandRows(g, s, workspace), forwardPitch: colPitch(g, s),
                            transposedRows: nil, transposedPitch: s.inputCols.count)
    if let t = transposedPlan(g, s), workspace >= t.fixed + t.rowCost {
        bands.transposedRows = Swift.max(1, Swift.min(s.inputRows.count, (workspace - t.fixed) / t.rowCost))
    }
    return bands
}

/// Workspace per output row of forward and backward-filter: the patch matrix's row and,
/// when pitched wider than the output, the GEMM's output (or dy) at that pitch.
func forwardRowCost(_ g: Conv2DGeometry, _ s: SpatialShard) -> Int {
    let pitch = colPitch(g, s)
    return g.patchSize * pitch + (pitch == s.outputCols.count ? 0 : g.groupOutChannels * pitch)
}

/// Output rows per band that a workspace of `workspace` elements holds.
@inline(__always)
func bandRows(_ g: Conv2DGeometry, _ s: SpatialShard, _ workspace: Int) -> Int {
    let row = forwardRowCost(g, s)
    precondition(row == 0 || workspace >= row, "\(g.layer): workspace \(workspace) below one output row \(row)")
    return row == 0 ? 1 : Swift.max(1, Swift.min(s.outputRows.count, workspace / row))
}

/// Preconditions on a shard call: the block and output inside the layer, buffer sizes,
/// and a local input covering every in-tensor index the outputs read.
func checkShard(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, block: Range<Int>, input: Int, weight: Int, output: Int
) {
    precondition(block.lowerBound >= 0 && block.upperBound <= g.outChannels,
                 "\(g.layer): output channel block \(block) outside 0..<\(g.outChannels)")
    precondition(s.outputRows.lowerBound >= 0 && s.outputRows.upperBound <= g.outputHeight
                 && s.outputCols.lowerBound >= 0 && s.outputCols.upperBound <= g.outputWidth,
                 "\(g.layer): output \(s.outputRows) x \(s.outputCols) outside \(g.outputHeight) x \(g.outputWidth)")
    precondition(input == n * g.inChannels * s.inputPlane,
                 "\(g.layer): input holds \(input), expected \(n) x \(g.inChannels) x \(s.inputRows.count) x \(s.inputCols.count)")
    precondition(weight == g.weightCount(outChannels: block),
                 "\(g.layer): weight holds \(weight), expected \(block.count) x \(g.patchSize)")
    precondition(output == n * block.count * s.outputPlane,
                 "\(g.layer): output holds \(output), expected \(n) x \(block.count) x \(s.outputRows.count) x \(s.outputCols.count)")
    checkCovers(s.inputRows, outputs: s.outputRows, kernel: g.kernelHeight, stride: g.strideH,
                padding: g.paddingH, dilation: g.dilationH, length: g.height, layer: g.layer, axis: "rows")
    checkCovers(s.inputCols, outputs: s.outputCols, kernel: g.kernelWidth, stride: g.strideW,
                padding: g.paddingW, dilation: g.dilationW, length: g.width, layer: g.layer, axis: "columns")
}

/// Calls `body(group, blockLocalChannels)` for each group the output-channel block
/// meets, with the block-local range of its output channels.
@inline(__always)
func forEachGroup(_ g: Conv2DGeometry, _ block: Range<Int>, _ body: (Int, Range<Int>) -> Void) {
    let fg = g.groupOutChannels
    for group in (block.lowerBound / fg)..<((block.upperBound + fg - 1) / fg) {
        let lo = Swift.max(block.lowerBound, group * fg), hi = Swift.min(block.upperBound, (group + 1) * fg)
        if lo < hi { body(group, (lo - block.lowerBound)..<(hi - block.lowerBound)) }
    }
}

/// Forward convolution of a shard: writes `y` (shapes above). `bias` may be nil.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func conv2d_forward<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, outChannels block: Range<Int>? = nil,
    x: UnsafeBufferPointer<T>, weight w: UnsafeBufferPointer<T>, bias b: UnsafeBufferPointer<T>?,
    y: UnsafeMutableBufferPointer<T>, workspace: UnsafeMutableBufferPointer<T>
) {
    let block = block ?? 0..<g.outChannels
    checkShard(g, s, batch: n, block: block, input: x.count, weight: w.count, output: y.count)
    precondition(b == nil || b?.count == block.count, "\(g.layer): bias holds \(b?.count ?? 0), expected \(block.count)")
    guard n > 0, s.outputPlane > 0, block.count > 0 else { return }
    guard let wp = w.baseAddress, let yp = y.baseAddress, let col = workspace.baseAddress else { return }
    // An empty local input (outputs that read only padding) may have no address; im2col
    // never reads it then, so any valid pointer stands in.
    let xp = x.baseAddress ?? UnsafePointer(col)
    let k = g.patchSize, outW = s.outputCols.count, outPlane = s.outputPlane, f = block.count
    let band = bandRows(g, s, workspace.count), pitch = colPitch(g, s)
    for img in 0..<n {
        for r0 in stride(from: 0, to: s.outputRows.count, by: band) {
            let rows = (s.outputRows.lowerBound + r0)..<(s.outputRows.lowerBound + Swift.min(r0 + band, s.outputRows.count))
            let cols = rows.count * pitch
            let y0 = yp + img * f * outPlane + r0 * outW
            if pitch == outW {
                // With a bias the band starts as the bias and the GEMM adds to it.
                if let b { for c in 0..<f { (y0 + c * outPlane).update(repeating: b[c], count: cols) } }
            }
            forEachGroup(g, block) { group, local in
                im2col(g, s, x: xp + (img * g.inChannels + group * g.groupInChannels) * s.inputPlane,
                       channels: g.groupInChannels, rows: rows, col: col)
                if pitch == outW {
                    T.gemm(transA: false, transB: false, m: local.count, n: cols, k: k,
                           alpha: 1, wp + local.lowerBound * k, lda: k, col, ldb: cols,
                           beta: b == nil ? 0 : 1, y0 + local.lowerBound * outPlane, ldc: outPlane)
                    return
                }
                // Pitched: the GEMM writes rows `pitch` wide after the patch matrix; keep
                // each row's first outW values (plus the bias).
                let t = col + k * cols
                T.gemm(transA: false, transB: false, m: local.count, n: cols, k: k,
                       alpha: 1, wp + local.lowerBound * k, lda: k, col, ldb: cols, beta: 0, t, ldc: cols)
                for c in local {
                    let bias = b?[c] ?? 0
                    for r in 0..<rows.count {
                        let src = t + (c - local.lowerBound) * cols + r * pitch, dst = y0 + c * outPlane + r * outW
                        var i = 0
                        while i < outW { dst[i] = src[i] + bias; i &+= 1 }
                    }
                }
            }
        }
    }
}

/// Gradient with respect to the weights of the block: adds into `dweight` [F, C/G, KH, KW]
/// this shard's contribution (the caller sums shards, e.g. by allreduce).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func conv2d_backward_filter<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, outChannels block: Range<Int>? = nil,
    x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>,
    dweight dw: UnsafeMutableBufferPointer<T>, workspace: UnsafeMutableBufferPointer<T>
) {
    let block = block ?? 0..<g.outChannels
    checkShard(g, s, batch: n, block: block, input: x.count, weight: dw.count, output: dy.count)
    guard n > 0, s.outputPlane > 0, block.count > 0 else { return }
    guard let dyp = dy.baseAddress, let dwp = dw.baseAddress, let col = workspace.baseAddress else { return }
    let xp = x.baseAddress ?? UnsafePointer(col)   // empty input: see conv2d_forward
    let k = g.patchSize, outW = s.outputCols.count, outPlane = s.outputPlane, f = block.count
    let band = bandRows(g, s, workspace.count), pitch = colPitch(g, s)
    for img in 0..<n {
        for r0 in stride(from: 0, to: s.outputRows.count, by: band) {
            let rows = (s.outputRows.lowerBound + r0)..<(s.outputRows.lowerBound + Swift.min(r0 + band, s.outputRows.count))
            let cols = rows.count * pitch
            let dy0 = dyp + img * f * outPlane + r0 * outW
            forEachGroup(g, block) { group, local in
                im2col(g, s, x: xp + (img * g.inChannels + group * g.groupInChannels) * s.inputPlane,
                       channels: g.groupInChannels, rows: rows, col: col)
                var a = UnsafePointer(dy0 + local.lowerBound * outPlane), lda = outPlane
                if pitch != outW {
                    // Pitched: dy re-laid at the patch matrix's pitch, zeros against its junk columns.
                    let t = col + k * cols
                    for c in 0..<local.count {
                        for r in 0..<rows.count {
                            let src = a + c * outPlane + r * outW, dst = t + c * cols + r * pitch
                            dst.update(from: src, count: outW)
                            (dst + outW).update(repeating: 0, count: pitch - outW)
                        }
                    }
                    a = UnsafePointer(t)
                    lda = cols
                }
                // dw_g[F_g, K] += dy_g[F_g, cols] * col^T [cols, K]
                T.gemm(transA: false, transB: true, m: local.count, n: k, k: cols,
                       alpha: 1, a, lda: lda, col, ldb: cols, beta: 1, dwp + local.lowerBound * k, ldc: k)
            }
        }
    }
}

/// Gradient with respect to the bias: adds into `dbias` [F] the sum of `dy`
/// [N, F, outputPlane] over images and positions.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func conv2d_backward_bias<T: GEMMScalar>(
    batch n: Int, channels f: Int, plane: Int, dy: UnsafeBufferPointer<T>, dbias: UnsafeMutableBufferPointer<T>
) {
    precondition(dy.count == n * f * plane && dbias.count == f,
                 "conv bias gradient: dy \(dy.count) for \(n) x \(f) x \(plane), dbias \(dbias.count)")
    guard let dyp = dy.baseAddress, let dbp = dbias.baseAddress else { return }
    for img in 0..<n {
        for c in 0..<f { dbp[c] += planeSum(dyp + (img * f + c) * plane, count: plane) }
    }
}

/// The sum of `count` values in eight interleaved partial sums: one running sum is a
/// chain of dependent adds (a few cycles each), eight are independent and vectorise.
@inline(__always)
private func planeSum<T: GEMMScalar>(_ p: UnsafePointer<T>, count: Int) -> T {
    var s0: T = 0, s1: T = 0, s2: T = 0, s3: T = 0, s4: T = 0, s5: T = 0, s6: T = 0, s7: T = 0
    var i = 0
    while i &+ 8 <= count {
        s0 += p[i]; s1 += p[i &+ 1]; s2 += p[i &+ 2]; s3 += p[i &+ 3]
        s4 += p[i &+ 4]; s5 += p[i &+ 5]; s6 += p[i &+ 6]; s7 += p[i &+ 7]
        i &+= 8
    }
    while i < count { s0 += p[i]; i &+= 1 }
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))
}
