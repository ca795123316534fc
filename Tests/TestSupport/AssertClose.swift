import Testing

/// Checks shapes first, then every value: `|a - e| <= atol + rtol * |e|`. On failure the
/// message names the largest difference and where it is.
public func assertClose<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(
    _ actual: [A], _ expected: [E], rtol: Double = 1e-5, atol: Double = 1e-6,
    _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        let message = "\(what): \(actual.count) values, expected \(expected.count)"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        return
    }
    var worst = -1
    var worstExcess = 0.0
    for i in 0..<actual.count {
        let a = Double(actual[i]), e = Double(expected[i])
        let excess = abs(a - e) - (atol + rtol * abs(e))
        if !(excess <= 0) && (worst < 0 || excess > worstExcess || excess.isNaN) {
            worst = i
            worstExcess = excess
        }
    }
    if worst >= 0 {
        let message = "\(what): not close (rtol \(rtol), atol \(atol)); largest difference at [\(worst)]: "
            + "actual \(actual[worst]), expected \(expected[worst])"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    }
}
