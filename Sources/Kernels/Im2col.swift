import Geometry

// im2col / col2im on a shard: the patch matrix of one group of one image for a band of
// output rows. Column matrix `col` is [patchSize][rows.count * pitch], row index
// (c*KH + kh)*KW + kw, column index (oy - rows.lowerBound)*pitch + (ox - ox0), where the
// pitch is `colPitch` (the output width, or the local input width at stride 1).
// Global input row iy = oy*sh - ph + kh*dh is read from local row iy - inputRows.lower
// when 0 <= iy < H, and is zero padding otherwise (padding only at the global border).

/// Columns per output row of the patch matrix: at stride 1 with a local input at least
/// as wide as the output, the input's width, so each band row of the matrix is one
/// contiguous run of the input (the columns past the output width are junk, which the
/// GEMM's users drop or meet with zeros); otherwise the output width.
func colPitch(_ g: Conv2DGeometry, _ s: SpatialShard) -> Int {
    let inW = s.inputCols.count, outW = s.outputCols.count
    return g.strideH == 1 && g.strideW == 1 && inW >= outW ? inW : outW
}

/// Fills `col` with the patches of `channels` channels starting at `x` (a local input
/// plane stack, `shard.inputPlane` apart) for global output rows `rows`.
@inline(__always)
func im2col<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, x: UnsafePointer<T>, channels: Int, rows: Range<Int>,
    col: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, inPlane = s.inputPlane
    let outW = s.outputCols.count, ox0 = s.outputCols.lowerBound
    let pitch = colPitch(g, s)
    let cols = rows.count * pitch
    let sw = g.strideW
    // Stride 1 on both axes, pitch = local input width: a band's rows for one (c, kh, kw)
    // are one contiguous run of the input, copied at once (then the padding columns,
    // which hold values wrapped around a row end, are zeroed).
    let contiguous = pitch == inW && g.strideH == 1 && sw == 1
    /// Patch-matrix row (c, kh, kw); `inside` and `valid` are the tap's output rows and
    /// columns whose input lies in the tensor.
    @inline(__always) func patchRow(_ c: Int, _ kh: Int, _ kw: Int, inside: Range<Int>, valid: Range<Int>) {
        var dst = col + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * cols
        let offX = kw * g.dilationW - g.paddingW
        if contiguous {
            im2colRun(g, s, x: x + c * inPlane, rows: rows, inRows: inside, kh: kh,
                      offX: offX, valid: valid, pitch: pitch, dst: dst)
            return
        }
        for oy in rows {
            let iy = oy * g.strideH - g.paddingH + kh * g.dilationH
            if iy < 0 || iy >= g.height {
                dst.update(repeating: 0, count: outW)
            } else {
                // src[ox] is the input of output column ox (global ox).
                let src = x + c * inPlane + (iy - s.inputRows.lowerBound) * inW + offX - s.inputCols.lowerBound
                for ox in ox0..<valid.lowerBound { dst[ox - ox0] = 0 }
                if sw == 1 {
                    (dst + (valid.lowerBound - ox0)).update(from: src + valid.lowerBound, count: valid.count)
                } else {
                    for ox in valid { dst[ox - ox0] = src[ox * sw] }
                }
                for ox in valid.upperBound..<s.outputCols.upperBound { dst[ox - ox0] = 0 }
            }
            dst += outW
        }
    }
    @inline(__always) func inside(_ kh: Int) -> Range<Int> {
        outputsInside(rows, stride: g.strideH, offset: kh * g.dilationH - g.paddingH, length: g.height)
    }
    @inline(__always) func valid(_ kw: Int) -> Range<Int> {
        outputsInside(s.outputCols, stride: sw, offset: kw * g.dilationW - g.paddingW, length: g.width)
    }
    // Small bands (the default model's images) go tap by tap through every channel, which
    // measured faster there (bench/run-kernels --model-only, "forward for one output
    // channel"); large ones channel by channel, which keeps one channel's band hot across
    // its taps and measured faster on the 4x16x256x256 benchmark (--conv-only).
    let bandInput = channels * (rows.count + (g.kernelHeight - 1) * g.dilationH) * inW
    if bandInput <= 1 << 14 {
        for kh in 0..<g.kernelHeight {
            let inRows = inside(kh)
            for kw in 0..<g.kernelWidth {
                let inCols = valid(kw)
                for c in 0..<channels { patchRow(c, kh, kw, inside: inRows, valid: inCols) }
            }
        }
    } else {
        for c in 0..<channels {
            for kh in 0..<g.kernelHeight {
                let inRows = inside(kh)
                for kw in 0..<g.kernelWidth { patchRow(c, kh, kw, inside: inRows, valid: valid(kw)) }
            }
        }
    }
}

/// Adds `col` (laid out as `im2col` makes it) into the local input gradient planes at
/// `dx`; entries that fall on padding are dropped. `col` is scratch: in the contiguous
/// case its padding entries are zeroed so whole bands go through one `axpy`.
@inline(__always)
func col2im<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, col: UnsafeMutablePointer<T>, channels: Int, rows: Range<Int>,
    dx: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, inPlane = s.inputPlane
    let outW = s.outputCols.count, ox0 = s.outputCols.lowerBound
    let cols = rows.count * outW
    let sw = g.strideW
    let contiguous = g.strideH == 1 && sw == 1 && inW == outW
    for c in 0..<channels {
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                var src = col + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * cols
                let offX = kw * g.dilationW - g.paddingW
                let valid = outputsInside(s.outputCols, stride: sw, offset: offX, length: g.width)
                if contiguous {
                    let inside = outputsInside(rows, stride: g.strideH, offset: kh * g.dilationH - g.paddingH, length: g.height)
                    guard !inside.isEmpty, !valid.isEmpty else { continue }
                    let band = src + (inside.lowerBound - rows.lowerBound) * outW
                    let lead = valid.lowerBound - ox0, trail = s.outputCols.upperBound - valid.upperBound
                    zeroEdges(band, rows: inside.count, pitch: outW, width: outW, lead: lead, trail: trail)
                    let iy = inside.lowerBound * g.strideH - g.paddingH + kh * g.dilationH
                    let dst = dx + c * inPlane + (iy - s.inputRows.lowerBound) * inW + valid.lowerBound + offX - s.inputCols.lowerBound
                    T.axpy(n: (inside.count - 1) * outW + valid.count, alpha: 1, band + lead, dst)
                    continue
                }
                for oy in rows {
                    let iy = oy * g.strideH - g.paddingH + kh * g.dilationH
                    if iy >= 0 && iy < g.height {
                        let dst = dx + c * inPlane + (iy - s.inputRows.lowerBound) * inW
                            + offX - s.inputCols.lowerBound
                        addStrided(src + (valid.lowerBound &- ox0), into: dst + valid.lowerBound &* sw,
                                   stride: sw, count: valid.count)
                    }
                    src += outW
                }
            }
        }
    }
}

/// `dst[i*stride] += src[i]` for `i < count`, with wrapping index arithmetic so the
/// unit-stride case vectorizes.
@inline(__always)
private func addStrided<T: GEMMScalar>(_ src: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>, stride: Int, count: Int) {
    if stride == 1 {
        var i = 0
        while i < count {
            dst[i] += src[i]
            i &+= 1
        }
    } else {
        var i = 0
        while i < count {
            dst[i &* stride] += src[i]
            i &+= 1
        }
    }
}

/// The contiguous case of `im2col` for one (c, kh, kw) row of the patch matrix: output
/// rows `inRows` (a subrange of `rows`) read the input, the others are padding. Rows
/// are `pitch` (the local input width) apart; columns from the output width to the
/// pitch are junk.
@inline(__always)
private func im2colRun<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, x: UnsafePointer<T>, rows: Range<Int>, inRows: Range<Int>,
    kh: Int, offX: Int, valid: Range<Int>, pitch: Int, dst: UnsafeMutablePointer<T>
) {
    let outW = s.outputCols.count, ox0 = s.outputCols.lowerBound
    guard inRows.lowerBound < inRows.upperBound, !valid.isEmpty else {
        dst.update(repeating: 0, count: rows.count * pitch)
        return
    }
    let top = (inRows.lowerBound - rows.lowerBound) * pitch
    if top > 0 { dst.update(repeating: 0, count: top) }
    let iy = inRows.lowerBound * g.strideH - g.paddingH + kh * g.dilationH
    // From the first valid column of the first row to the last valid of the last row.
    let src = x + (iy - s.inputRows.lowerBound) * pitch + valid.lowerBound + offX - s.inputCols.lowerBound
    let start = top + valid.lowerBound - ox0
    let count = (inRows.count - 1) * pitch + valid.count
    (dst + start).update(from: src, count: count)
    let lead = valid.lowerBound - ox0, trail = s.outputCols.upperBound - valid.upperBound
    zeroEdges(dst + top, rows: inRows.count, pitch: pitch, width: outW, lead: lead, trail: trail)
    let bottom = top + inRows.count * pitch
    if bottom < rows.count * pitch { (dst + bottom).update(repeating: 0, count: rows.count * pitch - bottom) }
}

/// Zeroes the first `lead` and last `trail` of the `width` entries of `rows` rows
/// `pitch` apart: a padding's width, one or two columns, so strided stores a column at a
/// time (a `memset` call per row, or a loop per row, costs more than the stores).
@inline(__always)
private func zeroEdges<T: GEMMScalar>(
    _ first: UnsafeMutablePointer<T>, rows: Int, pitch: Int, width: Int, lead: Int, trail: Int
) {
    for j in 0..<lead { zeroColumn(first + j, rows: rows, pitch: pitch) }
    for j in (width - trail)..<width { zeroColumn(first + j, rows: rows, pitch: pitch) }
}

@inline(__always)
private func zeroColumn<T: GEMMScalar>(_ first: UnsafeMutablePointer<T>, rows: Int, pitch: Int) {
    var p = first, r = 0
    while r < rows { p.pointee = 0; p += pitch; r &+= 1 }
}
