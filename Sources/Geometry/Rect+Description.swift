extension Rect: CustomStringConvertible {
    /// The reference dump's format, that of numpy's `repr` with runs of spaces folded:
    /// `Rect(array([ 0, 0, 32, 0], dtype=int32), array([256, 16, 32, 32], dtype=int32))`.
    public var description: String {
        "Rect(\(numpyArrayRepr(origin)), \(numpyArrayRepr(size)))"
    }
}

/// numpy's `repr` of an int32 vector with runs of spaces folded to one:
/// `array([ 0, 0, 32, 0], dtype=int32)`. Elements are right-aligned to the widest, which
/// is what leaves a space before a short first element.
public func numpyArrayRepr(_ values: [Int]) -> String {
    "array([\(numpyJoined(values, separator: ", "))], dtype=int32)"
}

/// numpy's `str` of an integer vector with runs of spaces folded: `[ 1 16 64 64]`.
public func numpyArrayStr(_ values: [Int]) -> String {
    "[\(numpyJoined(values, separator: " "))]"
}

private func numpyJoined(_ values: [Int], separator: String) -> String {
    let texts = values.map(String.init)
    let width = texts.map(\.count).max() ?? 0
    let padded = texts.map { String(repeating: " ", count: width - $0.count) + $0 }
    return foldSpaces(padded.joined(separator: separator))
}

private func foldSpaces(_ s: String) -> String {
    var out = ""
    var previousSpace = false
    for c in s {
        if c == " " && previousSpace { continue }
        previousSpace = c == " "
        out.append(c)
    }
    return out
}
