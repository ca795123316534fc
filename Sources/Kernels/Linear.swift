// Flatten + fully connected layer on a shard of its input.
//
// N = batch (local), K = the shard's flattened input features (C_blk*H_blk*W_blk, in
// C, H, W order), M = output features.
// x [N, K] (an NCHW block read flat), weight [M, K] (the same block of the full
// [M, C, H, W] weights, stored contiguously), bias [M], y [N, M].
// y = x * W^T (+ bias): a partial product when the input is split spatially; the caller
// sums the partial outputs over shards and adds the bias on one of them. The whole
// input is the special case of one shard.

/// `y = x W^T + bias` (bias may be nil); with `accumulate` the product is added to `y`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linear_forward<T: GEMMScalar>(
    batch n: Int, inFeatures k: Int, outFeatures m: Int,
    x: UnsafeBufferPointer<T>, weight w: UnsafeBufferPointer<T>, bias: UnsafeBufferPointer<T>?,
    y: UnsafeMutableBufferPointer<T>, accumulate: Bool = false
) {
    precondition(x.count == n * k && w.count == m * k && y.count == n * m && (bias?.count ?? m) == m,
                 "linear: x \(x.count), weight \(w.count), y \(y.count), bias \(bias?.count ?? 0) for N \(n), in \(k), out \(m)")
    guard let yp = y.baseAddress else { return }
    if !accumulate { yp.update(repeating: 0, count: n * m) }
    if let bias {
        for i in 0..<n { for j in 0..<m { y[i * m + j] += bias[j] } }
    }
    guard k > 0, let xp = x.baseAddress, let wp = w.baseAddress else { return }
    T.gemm(transA: false, transB: true, m: n, n: m, k: k, alpha: 1, xp, lda: k, wp, ldb: k, beta: 1, yp, ldc: m)
}

/// Input gradient of the shard: overwrites `dx` [N, K] with `dy W`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linear_backward_data<T: GEMMScalar>(
    batch n: Int, inFeatures k: Int, outFeatures m: Int,
    dy: UnsafeBufferPointer<T>, weight w: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>
) {
    precondition(dx.count == n * k && w.count == m * k && dy.count == n * m,
                 "linear backward: dy \(dy.count), weight \(w.count), dx \(dx.count) for N \(n), in \(k), out \(m)")
    guard let dxp = dx.baseAddress else { return }
    guard m > 0, let dyp = dy.baseAddress, let wp = w.baseAddress else { dxp.update(repeating: 0, count: dx.count); return }
    T.gemm(transA: false, transB: false, m: n, n: k, k: m, alpha: 1, dyp, lda: m, wp, ldb: k, beta: 0, dxp, ldc: k)
}

/// Weight gradient of the shard's block: adds `dy^T x` into `dweight` [M, K].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linear_backward_filter<T: GEMMScalar>(
    batch n: Int, inFeatures k: Int, outFeatures m: Int,
    x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, dweight: UnsafeMutableBufferPointer<T>
) {
    precondition(x.count == n * k && dweight.count == m * k && dy.count == n * m,
                 "linear backward: x \(x.count), dy \(dy.count), dweight \(dweight.count) for N \(n), in \(k), out \(m)")
    guard n > 0, let xp = x.baseAddress, let dyp = dy.baseAddress, let dwp = dweight.baseAddress else { return }
    T.gemm(transA: true, transB: false, m: m, n: k, k: n, alpha: 1, dyp, lda: m, xp, ldb: k, beta: 1, dwp, ldc: k)
}

/// Bias gradient: adds the sum of `dy` over the batch into `dbias` [M].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linear_backward_bias<T: GEMMScalar>(
    batch n: Int, outFeatures m: Int, dy: UnsafeBufferPointer<T>, dbias: UnsafeMutableBufferPointer<T>
) {
    precondition(dy.count == n * m && dbias.count == m, "linear bias backward: dy \(dy.count), dbias \(dbias.count) for N \(n), out \(m)")
    for i in 0..<n { for j in 0..<m { dbias[j] += dy[i * m + j] } }
}
