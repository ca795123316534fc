import Geometry
import Kernels
import Testing
import TestSupport

/// Values uniform in [-1, 1), seeded.
func randomValues<T: GEMMScalar>(_ count: Int, _ g: inout SplitMix64, as _: T.Type = T.self) -> [T] {
    (0..<count).map { _ in T(Double.random(in: -1..<1, using: &g)) }
}

/// Normwise relative error `max|a - e| / max(max|e|, max|a|)` (0 when both are zero).
func relativeError<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(_ a: [A], _ e: [E]) -> Double {
    precondition(a.count == e.count, "comparing \(a.count) values with \(e.count)")
    var diff = 0.0, scale = 0.0
    for (x, y) in zip(a, e) {
        diff = max(diff, abs(Double(x) - Double(y)))
        scale = max(scale, abs(Double(x)), abs(Double(y)))
    }
    return scale == 0 ? 0 : diff / scale
}

/// Central differences of `loss` at `point`: `(L(p + h e_i) - L(p - h e_i)) / 2h`.
func numericGradient(_ point: [Double], h: Double = 1e-5, _ loss: ([Double]) -> Double) -> [Double] {
    var p = point
    return (0..<p.count).map { i in
        let v = p[i]
        p[i] = v + h
        let up = loss(p)
        p[i] = v - h
        let down = loss(p)
        p[i] = v
        return (up - down) / (2 * h)
    }
}

/// `sum(r * y)`, the scalar whose gradient with respect to y is r.
func dot<T: BinaryFloatingPoint>(_ r: [Double], _ y: [T]) -> Double {
    precondition(r.count == y.count, "dot of \(r.count) and \(y.count)")
    var s = 0.0
    for (a, b) in zip(r, y) { s += a * Double(b) }
    return s
}

/// Bounds of the gradient checks: Double analytic vs Double central differences, and
/// Float analytic (same kernels) vs the same Double central differences.
let doubleGradientBound = 1e-6
let floatGradientBound = 1e-5

/// Records the worst error of one gradient check and expects it within `bound`.
func expectGradient(
    _ what: String, analytic: [some BinaryFloatingPoint], numeric: [Double], bound: Double,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let e = relativeError(analytic, numeric)
    GradientLog.record(what, e)
    #expect(e <= bound, "\(what): relative error \(e) above \(bound)", sourceLocation: sourceLocation)
}

/// Collects the worst errors so a test run can print them (swift test's output).
enum GradientLog {
    static func record(_ what: String, _ error: Double) {
        print("gradient \(what): relative error \(error)")
    }
}

func toDouble<T: BinaryFloatingPoint>(_ v: [T]) -> [Double] { v.map { Double($0) } }
func toFloat<T: BinaryFloatingPoint>(_ v: [T]) -> [Float] { v.map { Float($0) } }

// MARK: NCHW blocks

/// The block `rect` (NCHW, global coordinates) of a whole tensor of `shape`, contiguous.
func extract<T>(_ whole: [T], shape: [Int], rect: Rect) -> [T] {
    let full = Rect(shape: shape)
    return rect.points.map { whole[full.linearIndex(of: $0)] }
}

/// Adds a contiguous block at `rect` into a whole tensor of `shape`.
func addBlock<T: AdditiveArithmetic>(_ block: [T], into whole: inout [T], shape: [Int], rect: Rect) {
    let full = Rect(shape: shape)
    for (i, p) in rect.points.enumerated() { whole[full.linearIndex(of: p)] += block[i] }
}

/// Writes a contiguous block at `rect` into a whole tensor.
func putBlock<T>(_ block: [T], into whole: inout [T], shape: [Int], rect: Rect) {
    let full = Rect(shape: shape)
    for (i, p) in rect.points.enumerated() { whole[full.linearIndex(of: p)] = block[i] }
}

/// The NCHW input rect a shard with output block `out` reads: batch and channels whole,
/// rows and columns the receptive field (the partitioner's rule).
func inputRect(
    for out: Rect, batch n: Int, channels c: Int, height: Int, width: Int,
    kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int) = (1, 1)
) -> Rect {
    let rows = receptiveField(of: out.range(2), kernel: kernel.0, stride: stride.0, padding: padding.0,
                              dilation: dilation.0, inputLength: height)
    let cols = receptiveField(of: out.range(3), kernel: kernel.1, stride: stride.1, padding: padding.1,
                              dilation: dilation.1, inputLength: width)
    return Rect(origin: [out.origin[0], 0, rows.lowerBound, cols.lowerBound],
                size: [out.size[0], c, rows.count, cols.count])
}

/// The splits every shard-equivalence test runs: a 2x2 grid over (H, W) and a 3-way
/// uneven split of H, as `ProcessGrid`s over NCHW.
let shardGrids = [ProcessGrid(shape: [1, 1, 2, 2]), ProcessGrid(shape: [1, 1, 3, 1])]
