/// The input indices a sliding window reads to produce outputs `output`, as the smallest
/// range holding them all.
///
/// For output index `o` the window covers inputs `o*stride - padding + k*dilation` for
/// `k` in `0..<kernel`. Indices outside `0..<inputLength` are padding (zeros, not a
/// halo) and are left out, so with dilation or stride the range may start past a border
/// index no window touches. An empty output range, or one that touches only padding,
/// gives an empty range.
public func receptiveField(
    of output: Range<Int>, kernel: Int, stride: Int, padding: Int, dilation: Int = 1,
    inputLength n: Int
) -> Range<Int> {
    precondition(kernel >= 1 && stride >= 1 && dilation >= 1 && padding >= 0,
                 "window kernel \(kernel) stride \(stride) padding \(padding) dilation \(dilation)")
    guard !output.isEmpty else { return 0..<0 }
    var lo = Int.max, hi = Int.min
    // Per kernel tap j the touched indices are an arithmetic progression in o; take its
    // first and last member inside the tensor. Kernels are small, so this loop is short.
    for j in 0..<kernel {
        let shift = j * dilation - padding
        let inside = outputsInside(output, stride: stride, offset: shift, length: n)
        guard !inside.isEmpty else { continue }
        lo = Swift.min(lo, inside.lowerBound * stride + shift)
        hi = Swift.max(hi, (inside.upperBound - 1) * stride + shift)
    }
    return lo <= hi ? lo..<(hi + 1) : 0..<0
}

/// The outputs `o` of `range` whose input `o*stride + offset` lies in `0..<length`: one
/// tap of a window, split into its part inside the tensor and its padding. The result is
/// a subrange of `range` (possibly empty), so `range.lowerBound..<result.lowerBound` and
/// `result.upperBound..<range.upperBound` are the padding on either side.
@inlinable
public func outputsInside(_ range: Range<Int>, stride: Int, offset: Int, length: Int) -> Range<Int> {
    // o*stride + offset >= 0  <=>  o >= ceil(-offset / stride)
    let lo = Swift.min(range.upperBound, Swift.max(range.lowerBound, ceilDivide(-offset, stride)))
    // o*stride + offset <= length - 1  <=>  o <= floor((length - 1 - offset) / stride)
    let hi = Swift.min(range.upperBound, floorDivide(length - 1 - offset, stride) + 1)
    return lo..<Swift.max(lo, hi)
}

/// Division rounding toward minus infinity (`b > 0`).
@inlinable
public func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

/// Division rounding toward plus infinity (`b > 0`).
@inlinable
public func ceilDivide(_ a: Int, _ b: Int) -> Int { -floorDivide(-a, b) }

/// Output length of a sliding window: `floor((n + 2p - d(k-1) - 1) / s) + 1`, or with
/// `coverAll` (Chainer's pooling option) the ceiling, so the last partial window counts.
/// Returns 0 or less when the kernel does not fit the padded input.
public func windowOutputLength(
    inputLength n: Int, kernel: Int, stride: Int, padding: Int, dilation: Int = 1,
    coverAll: Bool = false
) -> Int {
    let span = n + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0 { return 0 }
    return (coverAll ? (span + stride - 1) / stride : span / stride) + 1
}
