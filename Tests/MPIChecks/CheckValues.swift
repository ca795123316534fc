import Comm
import Geometry

/// Element types the checks fill and compare, all exact for the formula's values.
protocol CheckScalar: MPIScalar, Equatable {
    init(checkValue value: Double)
}
extension Float: CheckScalar {
    init(checkValue value: Double) { self = Float(value) }
}
extension Double: CheckScalar {
    init(checkValue value: Double) { self = value }
}
extension Int: CheckScalar {
    init(checkValue value: Double) { self = Int(value) }
}

/// The value at a global point: distinct per element, exact in Float even summed over a
/// few ranks with small weights.
func formula(_ point: [Int], shape: [Int]) -> Double {
    var index = 0
    for d in 0..<shape.count { index = index * shape[d] + point[d] }
    return Double(index % 100_003 + 1)
}

/// A buffer storing `storage` (row-major), `value(p)` at every point, `nil` meaning the
/// sentinel -7.
func filled<T: CheckScalar>(_ storage: Rect, as _: T.Type = T.self, _ value: ([Int]) -> Double?) -> [T] {
    storage.points.map { T(checkValue: value($0) ?? -7) }
}

/// Failures where `buffer` (storing `storage`) differs from `expected(p)` on the points
/// of `region`; at most `limit` messages, then a count.
func mismatches<T: CheckScalar>(
    _ what: String, _ buffer: [T], storage: Rect, region: Rect, limit: Int = 4,
    _ expected: ([Int]) -> Double
) -> [String] {
    var messages: [String] = []
    var count = 0
    for p in region.points {
        let want = T(checkValue: expected(p))
        let got = buffer[storage.linearIndex(of: p)]
        if got != want {
            count += 1
            if count <= limit { messages.append("\(what): at \(p) got \(got), expected \(want)") }
        }
    }
    if count > limit { messages.append("\(what): \(count) wrong elements in all") }
    return messages
}

/// The most square factorisation `a * b == n` with `a <= b`.
func factor2(_ n: Int) -> (Int, Int) { ProcessGrid.squarestFactors(n) }
