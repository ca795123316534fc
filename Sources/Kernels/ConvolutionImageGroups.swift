// The convolution kernels over groups of whole images (shapes in Convolution.swift).
//
// A small layer's per-image GEMM is far below sgemm's speed (the default model's conv2:
// 32 x 196 x 144 per image): the call's fixed costs and the packing of its operands are
// paid per image. When the workspace holds the patch matrices of two or more whole
// images, `m` of them sit side by side in one patch matrix [K, m*cols] (cols = output
// rows x pitch per image) and one GEMM serves the group:
//   forward          Y_g [F_g, m*cols] = W_g * col, then scattered into NCHW y (+ bias);
//   backward-filter  dW_g += dY_g [F_g, m*cols] * col^T, dY_g gathered from NCHW dy;
//   backward-data    (stride 1, the transposed form) dX_g [C_g, m*inPlane] = W'_g * col',
//                    then scattered into NCHW dx.
// The workspace per image is its patch matrix and the GEMM's [F_g, cols] (or dy's, or
// dx's) share, so the scratch never aliases the patch matrix. Pitched columns (a
// halo wider than the output) are dropped by the scatter and met with zeros by the
// gather, as in the banded path. bench/run-kernels --model-only shows the gain.

/// Workspace per image of forward and backward-filter over image groups: the image's
/// patch matrix and one channel group's GEMM output (or dy) at the same width.
func imageGroupCost(_ g: Conv2DGeometry, _ s: SpatialShard) -> Int {
    (g.patchSize + g.groupOutChannels) * s.outputRows.count * colPitch(g, s)
}

/// How many images whose workspace is `perImage` each fit in `available`, or nil below
/// two (then the kernels run bands of one image).
func imagesThatFit(perImage: Int, available: Int) -> Int? {
    guard perImage > 0, available >= 2 * perImage else { return nil }
    return available / perImage
}

/// Images per GEMM for a batch of `n` when `fit` fit at once: the fewest groups, evened
/// out (64 images at 15 a group run as 13, 13, 13, 13, 12), or nil for one image.
func imagesPerGroup(batch n: Int, fit: Int?) -> Int? {
    guard let fit, n >= 2 else { return nil }
    let groups = (n + fit - 1) / fit
    return (n + groups - 1) / groups
}

/// Forward over groups of `m` images: writes `y` (bias added if given).
@inline(__always)
func forwardImageGroups<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, block: Range<Int>, images m: Int,
    x: UnsafePointer<T>, w: UnsafePointer<T>, bias: UnsafeBufferPointer<T>?, y: UnsafeMutablePointer<T>,
    col: UnsafeMutablePointer<T>
) {
    let k = g.patchSize, f = block.count, outPlane = s.outputPlane
    let pitch = colPitch(g, s), cols = s.outputRows.count * pitch
    for first in stride(from: 0, to: n, by: m) {
        let count = Swift.min(m, n - first), ld = count * cols
        forEachGroup(g, block) { group, local in
            for i in 0..<count {
                im2col(g, s, x: x + ((first + i) * g.inChannels + group * g.groupInChannels) * s.inputPlane,
                       channels: g.groupInChannels, rows: s.outputRows, col: col + i * cols, ld: ld)
            }
            let t = col + k * ld
            T.gemm(transA: false, transB: false, m: local.count, n: ld, k: k,
                   alpha: 1, w + local.lowerBound * k, lda: k, col, ldb: ld, beta: 0, t, ldc: ld)
            for i in 0..<count {
                for c in local {
                    scatterPlane(t + (c - local.lowerBound) * ld + i * cols, pitch: pitch, s,
                                 into: y + ((first + i) * f + c) * outPlane, adding: bias?[c])
                }
            }
        }
    }
}

/// Backward-filter over groups of `m` images: adds into `dw`.
@inline(__always)
func backwardFilterImageGroups<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, block: Range<Int>, images m: Int,
    x: UnsafePointer<T>, dy: UnsafePointer<T>, dw: UnsafeMutablePointer<T>, col: UnsafeMutablePointer<T>
) {
    let k = g.patchSize, f = block.count, outPlane = s.outputPlane
    let pitch = colPitch(g, s), cols = s.outputRows.count * pitch
    for first in stride(from: 0, to: n, by: m) {
        let count = Swift.min(m, n - first), ld = count * cols
        forEachGroup(g, block) { group, local in
            for i in 0..<count {
                im2col(g, s, x: x + ((first + i) * g.inChannels + group * g.groupInChannels) * s.inputPlane,
                       channels: g.groupInChannels, rows: s.outputRows, col: col + i * cols, ld: ld)
            }
            let t = col + k * ld
            for c in 0..<local.count {
                for i in 0..<count {
                    gatherPlane(dy + ((first + i) * f + local.lowerBound + c) * outPlane, s,
                                into: t + c * ld + i * cols, pitch: pitch)
                }
            }
            // dw_g[F_g, K] += dy_g[F_g, m*cols] * col^T [m*cols, K]
            T.gemm(transA: false, transB: true, m: local.count, n: k, k: ld,
                   alpha: 1, t, lda: ld, col, ldb: ld, beta: 1, dw + local.lowerBound * k, ldc: k)
        }
    }
}

/// Backward-data by the transposed form over groups of `m` images: overwrites the
/// block's groups of `dx`. `wt` holds room for one group's flipped filters and, when the
/// plan re-lays dy, `dyRelaid` one image's dy at dx's width.
@inline(__always)
func backwardDataImageGroups<T: GEMMScalar>(
    _ g: Conv2DGeometry, _ s: SpatialShard, _ plan: TransposedPlan, batch n: Int, block: Range<Int>, images m: Int,
    dy: UnsafePointer<T>, w: UnsafePointer<T>, dx: UnsafeMutablePointer<T>,
    wt: UnsafeMutablePointer<T>, dyRelaid: UnsafeMutablePointer<T>, col: UnsafeMutablePointer<T>
) {
    let cg = g.groupInChannels, taps = g.kernelHeight * g.kernelWidth, inPlane = s.inputPlane, f = block.count
    forEachGroup(g, block) { group, local in
        flipFilters(g, local, w: w, into: wt)
        let kt = local.count * taps
        for first in stride(from: 0, to: n, by: m) {
            let count = Swift.min(m, n - first), ld = count * inPlane
            for i in 0..<count {
                let src = relaidDy(g, s, plan, dy + ((first + i) * f + local.lowerBound) * s.outputPlane,
                                   channels: local.count, scratch: dyRelaid)
                im2col(plan.t, plan.ts, x: src, channels: local.count, rows: 0..<s.inputRows.count,
                       col: col + i * inPlane, ld: ld)
            }
            let t = col + kt * ld
            T.gemm(transA: false, transB: false, m: cg, n: ld, k: kt, alpha: 1, wt, lda: kt, col, ldb: ld,
                   beta: 0, t, ldc: ld)
            for i in 0..<count {
                for c in 0..<cg {
                    (dx + ((first + i) * g.inChannels + group * cg + c) * inPlane)
                        .update(from: t + c * ld + i * inPlane, count: inPlane)
                }
            }
        }
    }
}

/// Copies one output plane from a GEMM result whose rows are `pitch` apart (the
/// first `outputCols.count` of each are the plane's row) into NCHW `dst`, adding `bias`.
@inline(__always)
private func scatterPlane<T: GEMMScalar>(
    _ src: UnsafePointer<T>, pitch: Int, _ s: SpatialShard, into dst: UnsafeMutablePointer<T>, adding bias: T?
) {
    let outW = s.outputCols.count
    // At pitch = width the plane is one run.
    let runs = pitch == outW ? 1 : s.outputRows.count, width = pitch == outW ? s.outputPlane : outW
    for r in 0..<runs {
        let from = src + r * pitch, to = dst + r * outW
        if let bias {
            var j = 0
            while j < width { to[j] = from[j] + bias; j &+= 1 }
        } else {
            to.update(from: from, count: width)
        }
    }
}

/// Copies one NCHW output plane of dy into rows `pitch` apart, zeros in the columns
/// past the plane's width (they meet the patch matrix's junk columns).
@inline(__always)
private func gatherPlane<T: GEMMScalar>(
    _ src: UnsafePointer<T>, _ s: SpatialShard, into dst: UnsafeMutablePointer<T>, pitch: Int
) {
    let outW = s.outputCols.count
    guard pitch != outW else {
        dst.update(from: src, count: s.outputPlane)
        return
    }
    for r in 0..<s.outputRows.count {
        (dst + r * pitch).update(from: src + r * outW, count: outW)
        (dst + r * pitch + outW).update(repeating: 0, count: pitch - outW)
    }
}
