import Geometry

// Max and average pooling on a shard with a halo (see `SpatialShard`).
//
// N = batch (local), C = channels; x [N, C, inputRows, inputCols], y [N, C, outputRows, outputCols].
// Window of output (oy, ox): input rows oy*sh - ph ..< oy*sh - ph + KH (columns alike),
// clipped to the global tensor; padding never wins a max and adds zero to an average.
// Shards whose windows all lie inside the tensor take the loops of PoolingInterior.swift.

/// Pooling shapes over a whole tensor. `coverAll` is Chainer's option: the output size
/// rounds up so the last partial window counts (`windowOutputLength(coverAll:)`).
public struct Pool2DGeometry: Hashable, Sendable {
    public let layer: String
    public let channels: Int
    public let height: Int
    public let width: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let strideH: Int
    public let strideW: Int
    public let paddingH: Int
    public let paddingW: Int
    public let coverAll: Bool
    public let outputHeight: Int
    public let outputWidth: Int

    /// Throws naming `layer` when the window does not fit the padded input or the
    /// padding is more than half the window (PyTorch's rule).
    public init(
        layer: String = "Pool2D", channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
        strideH: Int, strideW: Int, paddingH: Int = 0, paddingW: Int = 0, coverAll: Bool = false
    ) throws(KernelShapeError) {
        for (name, value) in [("channels", channels), ("height", height), ("width", width),
                              ("kernel height", kernelHeight), ("kernel width", kernelWidth),
                              ("stride", strideH), ("stride", strideW)] {
            try requireAtLeast(value, 1, layer: layer, name: name)
        }
        for (p, k) in [(paddingH, kernelHeight), (paddingW, kernelWidth)] {
            guard p >= 0 && 2 * p <= k else {
                throw .invalidParameter(layer: layer, name: "padding", value: p, requirement: "between 0 and half the kernel \(k)")
            }
        }
        guard kernelHeight <= height + 2 * paddingH else {
            throw .kernelLargerThanInput(layer: layer, axis: "height", input: height, padding: paddingH, kernel: kernelHeight, dilation: 1)
        }
        guard kernelWidth <= width + 2 * paddingW else {
            throw .kernelLargerThanInput(layer: layer, axis: "width", input: width, padding: paddingW, kernel: kernelWidth, dilation: 1)
        }
        self.layer = layer
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideH = strideH
        self.strideW = strideW
        self.paddingH = paddingH
        self.paddingW = paddingW
        self.coverAll = coverAll
        self.outputHeight = windowOutputLength(
            inputLength: height, kernel: kernelHeight, stride: strideH, padding: paddingH, coverAll: coverAll)
        self.outputWidth = windowOutputLength(
            inputLength: width, kernel: kernelWidth, stride: strideW, padding: paddingW, coverAll: coverAll)
    }

    /// A square window with the same stride and padding on both axes.
    public init(
        layer: String = "Pool2D", channels: Int, height: Int, width: Int, kernel: Int, stride: Int,
        padding: Int = 0, coverAll: Bool = false
    ) throws(KernelShapeError) {
        try self.init(layer: layer, channels: channels, height: height, width: width, kernelHeight: kernel,
                      kernelWidth: kernel, strideH: stride, strideW: stride, paddingH: padding, paddingW: padding,
                      coverAll: coverAll)
    }

    public var wholeShard: SpatialShard {
        .whole(height: height, width: width, outputHeight: outputHeight, outputWidth: outputWidth)
    }

    /// The divisor of an average window starting at (y0, x0) (global, may be negative):
    /// PyTorch's default counts the window's positions inside the padded input; Chainer
    /// (`coverAll`) always divides by the kernel area.
    @inline(__always)
    func divisor(y0: Int, x0: Int) -> Int {
        if coverAll { return kernelHeight * kernelWidth }
        let y1 = Swift.min(y0 + kernelHeight, height + paddingH), x1 = Swift.min(x0 + kernelWidth, width + paddingW)
        return (y1 - y0) * (x1 - x0)
    }

    fileprivate func check(_ s: SpatialShard, batch n: Int, x: Int, y: Int) {
        precondition(s.outputRows.lowerBound >= 0 && s.outputRows.upperBound <= outputHeight
                     && s.outputCols.lowerBound >= 0 && s.outputCols.upperBound <= outputWidth,
                     "\(layer): output \(s.outputRows) x \(s.outputCols) outside \(outputHeight) x \(outputWidth)")
        precondition(x == n * channels * s.inputPlane, "\(layer): input holds \(x), expected \(n) x \(channels) x \(s.inputPlane)")
        precondition(y == n * channels * s.outputPlane, "\(layer): output holds \(y), expected \(n) x \(channels) x \(s.outputPlane)")
        checkCovers(s.inputRows, outputs: s.outputRows, kernel: kernelHeight, stride: strideH, padding: paddingH,
                    dilation: 1, length: height, layer: layer, axis: "rows")
        checkCovers(s.inputCols, outputs: s.outputCols, kernel: kernelWidth, stride: strideW, padding: paddingW,
                    dilation: 1, length: width, layer: layer, axis: "columns")
    }

    /// Calls `body(plane, outIndex, y0, x0, rows, cols)` for every output of the shard:
    /// the plane (n*C + c), the output's offset in its local plane, the window's global
    /// start, and its rows and columns clipped to the tensor, as local input indices.
    @inline(__always)
    func forEachWindow(_ s: SpatialShard, planes: Int, _ body: (Int, Int, Int, Int, Range<Int>, Range<Int>) -> Void) {
        let outW = s.outputCols.count
        // A window can miss the tensor entirely (a cover_all window past the end): the
        // clipped range is then empty.
        @inline(__always) func clipped(_ start: Int, _ kernel: Int, _ length: Int, _ local: Int) -> Range<Int> {
            let lo = Swift.max(start, 0), hi = Swift.min(start + kernel, length)
            return lo < hi ? (lo - local)..<(hi - local) : 0..<0
        }
        for plane in 0..<planes {
            for oy in s.outputRows {
                let y0 = oy * strideH - paddingH
                let rows = clipped(y0, kernelHeight, height, s.inputRows.lowerBound)
                for ox in s.outputCols {
                    let x0 = ox * strideW - paddingW
                    let cols = clipped(x0, kernelWidth, width, s.inputCols.lowerBound)
                    body(plane, (oy - s.outputRows.lowerBound) * outW + ox - s.outputCols.lowerBound, y0, x0, rows, cols)
                }
            }
        }
    }
}

/// Max pooling: writes `y` and, per output, the offset in its local input plane of the
/// winning input (`argmax`, the first maximum in row-major order), or -1 for a window
/// wholly in padding (then y = 0; only `coverAll` windows can be).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func maxpool2d_forward<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int,
    x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>, argmax: UnsafeMutableBufferPointer<Int32>
) {
    g.check(s, batch: n, x: x.count, y: y.count)
    precondition(argmax.count == y.count, "\(g.layer): argmax holds \(argmax.count), expected \(y.count)")
    if g.windowsInside(s), let xp = x.baseAddress, let yp = y.baseAddress, let ap = argmax.baseAddress {
        maxpoolInside(g, s, planes: n * g.channels, x: xp, y: yp, argmax: ap)
        return
    }
    let inW = s.inputCols.count, inPlane = s.inputPlane, outPlane = s.outputPlane
    g.forEachWindow(s, planes: n * g.channels) { plane, o, _, _, rows, cols in
        var best = -T.infinity
        var at = -1
        for r in rows {
            for c in cols {
                let v = x[plane * inPlane + r * inW + c]
                if v > best || at < 0 { best = v; at = r * inW + c }
            }
        }
        y[plane * outPlane + o] = at < 0 ? 0 : best
        argmax[plane * outPlane + o] = Int32(at)
    }
}

/// Max pooling gradient: overwrites `dx` with `dy` routed to each window's winner.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func maxpool2d_backward<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int,
    dy: UnsafeBufferPointer<T>, argmax: UnsafeBufferPointer<Int32>, dx: UnsafeMutableBufferPointer<T>
) {
    g.check(s, batch: n, x: dx.count, y: dy.count)
    precondition(argmax.count == dy.count, "\(g.layer): argmax holds \(argmax.count), expected \(dy.count)")
    dx.update(repeating: 0)
    guard let dxp = dx.baseAddress, let dyp = dy.baseAddress, let ap = argmax.baseAddress else { return }
    let inPlane = s.inputPlane, outPlane = s.outputPlane
    for plane in 0..<(n * g.channels) {
        let dxPlane = dxp + plane * inPlane, dyPlane = dyp + plane * outPlane, aPlane = ap + plane * outPlane
        var o = 0
        while o < outPlane {
            let at = Int(aPlane[o])
            if at >= 0 { dxPlane[at] += dyPlane[o] }
            o &+= 1
        }
    }
}

/// Average pooling (divisor: see `Pool2DGeometry.divisor`).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func avgpool2d_forward<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>
) {
    g.check(s, batch: n, x: x.count, y: y.count)
    if g.windowsInside(s), let xp = x.baseAddress, let yp = y.baseAddress {
        avgpoolInside(g, s, planes: n * g.channels, x: xp, y: yp)
        return
    }
    let inW = s.inputCols.count, inPlane = s.inputPlane, outPlane = s.outputPlane
    g.forEachWindow(s, planes: n * g.channels) { plane, o, y0, x0, rows, cols in
        var sum: T = 0
        for r in rows {
            for c in cols { sum += x[plane * inPlane + r * inW + c] }
        }
        y[plane * outPlane + o] = sum / T(g.divisor(y0: y0, x0: x0))
    }
}

/// Average pooling gradient: overwrites `dx` (local input, halo included).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func avgpool2d_backward<T: GEMMScalar>(
    _ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>
) {
    g.check(s, batch: n, x: dx.count, y: dy.count)
    dx.update(repeating: 0)
    if g.windowsInside(s), let dyp = dy.baseAddress, let dxp = dx.baseAddress {
        avgpoolBackwardInside(g, s, planes: n * g.channels, dy: dyp, dx: dxp)
        return
    }
    let inW = s.inputCols.count, inPlane = s.inputPlane, outPlane = s.outputPlane
    g.forEachWindow(s, planes: n * g.channels) { plane, o, y0, x0, rows, cols in
        let v = dy[plane * outPlane + o] / T(g.divisor(y0: y0, x0: x0))
        for r in rows {
            for c in cols { dx[plane * inPlane + r * inW + c] += v }
        }
    }
}
