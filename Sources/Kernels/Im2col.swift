// im2col / col2im on a shard: the patch matrix of one group of one image for a band of
// output rows. Column matrix `col` is [patchSize][rows.count * outputCols.count], row
// index (c*KH + kh)*KW + kw, column index (oy - rows.lowerBound)*OW' + (ox - ox0).
// Global input row iy = oy*sh - ph + kh*dh is read from local row iy - inputRows.lower
// when 0 <= iy < H, and is zero padding otherwise (padding only at the global border).

/// Fills `col` with the patches of `channels` channels starting at `x` (a local input
/// plane stack, `shard.inputPlane` apart) for global output rows `rows`.
@inline(__always)
func im2col<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, x: UnsafePointer<T>, channels: Int, rows: Range<Int>,
    col: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, inPlane = s.inputPlane
    let outW = s.outputCols.count, ox0 = s.outputCols.lowerBound
    let cols = rows.count * outW
    let sw = g.strideW
    for c in 0..<channels {
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                var dst = col + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * cols
                let offX = kw * g.dilationW - g.paddingW
                let valid = validOutputs(s.outputCols, stride: sw, offset: offX, length: g.width)
                for oy in rows {
                    let iy = oy * g.strideH - g.paddingH + kh * g.dilationH
                    if iy < 0 || iy >= g.height {
                        dst.update(repeating: 0, count: outW)
                    } else {
                        // src[ox] is the input of output column ox (global ox).
                        let src = x + c * inPlane + (iy - s.inputRows.lowerBound) * inW
                            + offX - s.inputCols.lowerBound
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
        }
    }
}

/// Adds `col` (laid out as `im2col` makes it) into the local input gradient planes at
/// `dx`; entries that fall on padding are dropped.
@inline(__always)
func col2im<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, col: UnsafePointer<T>, channels: Int, rows: Range<Int>,
    dx: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, inPlane = s.inputPlane
    let outW = s.outputCols.count, ox0 = s.outputCols.lowerBound
    let cols = rows.count * outW
    let sw = g.strideW
    for c in 0..<channels {
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                var src = col + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * cols
                let offX = kw * g.dilationW - g.paddingW
                let valid = validOutputs(s.outputCols, stride: sw, offset: offX, length: g.width)
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
