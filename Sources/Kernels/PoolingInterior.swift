// Pooling over windows wholly inside the tensor (shapes in Pooling.swift).
//
// When no window of a shard's outputs reaches padding or runs past the end (no padding
// near them, no cover_all partial window), every window is the full KH x KW block at
// local input row r0 + oy*sh, column c0 + ox*sw, where (r0, c0) is the first output's
// window. The loops then walk output rows with plain pointer arithmetic: no clipping,
// no closure per output, and 2x2 stride-2 max pooling in Float (the common case) four
// windows at a time in SIMD lanes. They visit each window's inputs in the same
// row-major order as the general loops, so the results (and argmax ties: the first
// maximum wins) are the same bits. bench/run-kernels --model-only times them.

extension Pool2DGeometry {
    /// Whether every window of the shard's outputs lies wholly inside the tensor.
    func windowsInside(_ s: SpatialShard) -> Bool {
        guard !s.outputRows.isEmpty, !s.outputCols.isEmpty else { return false }
        return s.outputRows.lowerBound * strideH - paddingH >= 0
            && (s.outputRows.upperBound - 1) * strideH - paddingH + kernelHeight <= height
            && s.outputCols.lowerBound * strideW - paddingW >= 0
            && (s.outputCols.upperBound - 1) * strideW - paddingW + kernelWidth <= width
    }

    /// Offset in the local input plane of output (0, 0)'s window (its top-left input).
    func firstWindowOffset(_ s: SpatialShard) -> Int {
        let r0 = s.outputRows.lowerBound * strideH - paddingH - s.inputRows.lowerBound
        let c0 = s.outputCols.lowerBound * strideW - paddingW - s.inputCols.lowerBound
        return r0 * s.inputCols.count + c0
    }
}

/// Max pooling when `g.windowsInside(s)`: `planes` planes of x, y and argmax.
@inline(__always)
func maxpoolInside<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, planes: Int,
    x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, argmax: UnsafeMutablePointer<Int32>
) {
    let inW = s.inputCols.count, inPlane = s.inputPlane, outW = s.outputCols.count, outPlane = s.outputPlane
    // The offsets fit Int32 (the argmax type); checked once, then converted unchecked.
    precondition(inPlane <= Int(Int32.max), "\(g.layer): input plane \(inPlane) too large for Int32 argmax")
    let first = g.firstWindowOffset(s), rowStep = g.strideH * inW, sw = g.strideW
    for plane in 0..<planes {
        let xPlane = x + plane * inPlane
        for oy in 0..<s.outputRows.count {
            let start = first + oy * rowStep
            let yRow = y + plane * outPlane + oy * outW, aRow = argmax + plane * outPlane + oy * outW
            if g.kernelHeight == 2 && g.kernelWidth == 2 {
                if T.self == Float.self && sw == 2 {
                    // T is Float: the memory is bound to Float already.
                    max2x2Stride2Row(UnsafeRawPointer(xPlane).assumingMemoryBound(to: Float.self), start: start,
                                     inW: inW, count: outW,
                                     y: UnsafeMutableRawPointer(yRow).assumingMemoryBound(to: Float.self), argmax: aRow)
                } else {
                    max2x2Row(xPlane, start: start, inW: inW, stride: sw, count: outW, y: yRow, argmax: aRow)
                }
                continue
            }
            for ox in 0..<outW {
                let w0 = start + ox * sw
                var best = xPlane[w0], at = w0
                for r in 0..<g.kernelHeight {
                    let row = w0 + r * inW
                    for c in 0..<g.kernelWidth where xPlane[row + c] > best {
                        best = xPlane[row + c]
                        at = row + c
                    }
                }
                yRow[ox] = best
                aRow[ox] = Int32(truncatingIfNeeded: at)
            }
        }
    }
}

/// One output row of 2x2 stride-2 max pooling in Float: window `ox` starts at plane
/// offset `start + 2*ox`. Compares and blends four windows at once (the compiler keeps
/// scalar float selects as branches, and which input wins is random: about one
/// mispredict per window). A row whose width is not a multiple of four ends with the
/// last four windows again, overlapping (the same values are stored twice); a row of
/// fewer than four gathers its windows into the lanes one by one.
@inline(__always)
private func max2x2Stride2Row(
    _ x: UnsafePointer<Float>, start: Int, inW: Int, count: Int,
    y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>
) {
    let top = x + start, bottom = top + inW
    let start32 = Int32(truncatingIfNeeded: start), inW32 = Int32(truncatingIfNeeded: inW)
    let lanes = SIMD4<Int32>(0, 2, 4, 6)
    guard count > 0 else { return }
    guard count >= 4 else {
        var a = SIMD4<Float>(), b = a, d = a, e = a
        for i in 0..<4 {
            let c = 2 * Swift.min(i, count - 1)
            a[i] = top[c]; b[i] = top[c + 1]; d[i] = bottom[c]; e[i] = bottom[c + 1]
        }
        let (best, at) = max2x2Lanes(a, b, d, e, inW: inW32)
        let index = lanes &+ start32 &+ at
        for i in 0..<count { y[i] = best[i]; argmax[i] = index[i] }
        return
    }
    var ox = 0
    while true {
        // Eight inputs of each row: even lanes are the windows' left column.
        let t = UnsafeRawPointer(top + 2 &* ox).loadUnaligned(as: SIMD8<Float>.self)
        let u = UnsafeRawPointer(bottom + 2 &* ox).loadUnaligned(as: SIMD8<Float>.self)
        let (best, at) = max2x2Lanes(t.evenHalf, t.oddHalf, u.evenHalf, u.oddHalf, inW: inW32)
        UnsafeMutableRawPointer(y + ox).storeBytes(of: best, as: SIMD4<Float>.self)
        let index = lanes &+ (start32 &+ 2 &* Int32(truncatingIfNeeded: ox)) &+ at
        UnsafeMutableRawPointer(argmax + ox).storeBytes(of: index, as: SIMD4<Int32>.self)
        if ox &+ 4 == count { return }
        ox = Swift.min(ox &+ 4, count &- 4)
    }
}

/// Four 2x2 windows: the maximum of each and its offset in the window (0, 1, inW or
/// inW + 1), the first maximum in row-major order (a NaN first input stays).
@inline(__always)
private func max2x2Lanes(
    _ a: SIMD4<Float>, _ b: SIMD4<Float>, _ d: SIMD4<Float>, _ e: SIMD4<Float>, inW: Int32
) -> (SIMD4<Float>, SIMD4<Int32>) {
    var best = a, at = SIMD4<Int32>(repeating: 0)
    var m = b .> best
    best.replace(with: b, where: m)
    at.replace(with: 1, where: m)
    m = d .> best
    best.replace(with: d, where: m)
    at.replace(with: inW, where: m)
    m = e .> best
    best.replace(with: e, where: m)
    at.replace(with: inW &+ 1, where: m)
    return (best, at)
}

/// One output row of 2x2 max pooling: window `ox` starts at plane offset
/// `start + ox*stride`.
@inline(__always)
private func max2x2Row<T: GEMMScalar>(
    _ x: UnsafePointer<T>, start: Int, inW: Int, stride: Int, count: Int,
    y: UnsafeMutablePointer<T>, argmax: UnsafeMutablePointer<Int32>
) {
    let top = x + start, bottom = top + inW
    let start32 = Int32(truncatingIfNeeded: start), inW32 = Int32(truncatingIfNeeded: inW)
    let stride32 = Int32(truncatingIfNeeded: stride)
    var ox = 0
    while ox < count {
        let c = ox &* stride
        let a = top[c], b = top[c &+ 1], d = bottom[c], e = bottom[c &+ 1]
        var best = a, at: Int32 = 0
        if b > best { best = b; at = 1 }
        if d > best { best = d; at = inW32 }
        if e > best { best = e; at = inW32 &+ 1 }
        y[ox] = best
        argmax[ox] = start32 &+ Int32(truncatingIfNeeded: ox) &* stride32 &+ at
        ox &+= 1
    }
}

/// Average pooling when `g.windowsInside(s)`: every divisor is KH*KW (see
/// `Pool2DGeometry.divisor`: an unclipped window ends inside the padded input).
@inline(__always)
func avgpoolInside<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, planes: Int, x: UnsafePointer<T>, y: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, inPlane = s.inputPlane, outW = s.outputCols.count, outPlane = s.outputPlane
    let first = g.firstWindowOffset(s), rowStep = g.strideH * inW, sw = g.strideW
    let divisor = T(g.kernelHeight * g.kernelWidth)
    for plane in 0..<planes {
        let xPlane = x + plane * inPlane
        for oy in 0..<s.outputRows.count {
            let start = first + oy * rowStep, yRow = y + plane * outPlane + oy * outW
            for ox in 0..<outW {
                let w0 = start + ox * sw
                var sum: T = 0
                for r in 0..<g.kernelHeight {
                    for c in 0..<g.kernelWidth { sum += xPlane[w0 + r * inW + c] }
                }
                yRow[ox] = sum / divisor
            }
        }
    }
}

/// Average pooling gradient when `g.windowsInside(s)`: adds each output's share into
/// `dx` (zeroed by the caller).
@inline(__always)
func avgpoolBackwardInside<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, planes: Int, dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>
) {
    let inW = s.inputCols.count, inPlane = s.inputPlane, outW = s.outputCols.count, outPlane = s.outputPlane
    let first = g.firstWindowOffset(s), rowStep = g.strideH * inW, sw = g.strideW
    let divisor = T(g.kernelHeight * g.kernelWidth)
    for plane in 0..<planes {
        let dxPlane = dx + plane * inPlane
        for oy in 0..<s.outputRows.count {
            let start = first + oy * rowStep, dyRow = dy + plane * outPlane + oy * outW
            for ox in 0..<outW {
                let w0 = start + ox * sw, v = dyRow[ox] / divisor
                for r in 0..<g.kernelHeight {
                    for c in 0..<g.kernelWidth { dxPlane[w0 + r * inW + c] += v }
                }
            }
        }
    }
}
