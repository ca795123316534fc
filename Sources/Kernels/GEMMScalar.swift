import CBLAS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A floating-point type the kernels run in: `Float` for training, `Double` for the
/// gradient checks, which need central differences far below `Float`'s rounding.
///
/// `gemm` is row-major `C = alpha * op(A) * op(B) + beta * C` with `op(A)` of `m x k`,
/// `op(B)` of `k x n`; it maps to `cblas_sgemm` / `cblas_dgemm`. The leading dimensions
/// are those of the matrices as stored (before the transpose).
public protocol GEMMScalar: BinaryFloatingPoint, Sendable {
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, _ a: UnsafePointer<Self>, lda: Int,
        _ b: UnsafePointer<Self>, ldb: Int,
        beta: Self, _ c: UnsafeMutablePointer<Self>, ldc: Int)
    /// `y[i] += alpha * x[i]` for `i < n` (cblas_saxpy / cblas_daxpy, unit strides): BLAS
    /// uses the CPU's widest vectors, which code compiled for baseline x86-64 does not.
    static func axpy(n: Int, alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
}

@inline(__always)
private func cblasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

/// The BLAS interface takes 32-bit sizes; larger ones are a programmer error, not a
/// silent truncation.
@inline(__always)
private func blasInt(_ v: Int) -> blasint {
    precondition(v >= 0 && v <= Int(blasint.max), "BLAS size \(v) out of range")
    return blasint(v)
}

extension Float: GEMMScalar {
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, _ a: UnsafePointer<Float>, lda: Int,
        _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB),
            blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb),
            beta, c, blasInt(ldc))
    }
    @inline(__always)
    public static func axpy(n: Int, alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        cblas_saxpy(blasInt(n), alpha, x, 1, y, 1)
    }
    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
}

extension Double: GEMMScalar {
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, _ a: UnsafePointer<Double>, lda: Int,
        _ b: UnsafePointer<Double>, ldb: Int,
        beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB),
            blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb),
            beta, c, blasInt(ldc))
    }
    @inline(__always)
    public static func axpy(n: Int, alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        cblas_daxpy(blasInt(n), alpha, x, 1, y, 1)
    }
    @inline(__always) public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
}
