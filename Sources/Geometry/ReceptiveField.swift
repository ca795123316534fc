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
        // Smallest o in output with o*stride + shift >= 0.
        let oFirst = Swift.max(output.lowerBound, ceilDiv(-shift, stride))
        // Largest o in output with o*stride + shift <= n - 1.
        let oLast = Swift.min(output.upperBound - 1, floorDiv(n - 1 - shift, stride))
        guard oFirst <= oLast else { continue }
        lo = Swift.min(lo, oFirst * stride + shift)
        hi = Swift.max(hi, oLast * stride + shift)
    }
    return lo <= hi ? lo..<(hi + 1) : 0..<0
}

func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

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
