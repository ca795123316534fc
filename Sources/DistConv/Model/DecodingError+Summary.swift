extension DecodingError {
    /// The dotted path of the field that failed, e.g. `ops.2.kernel`.
    var fieldPath: String? {
        let path: [CodingKey]
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: return nil
        }
        guard !path.isEmpty else { return nil }
        return path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    /// One line: what was wrong, with the parser's position when it gave one.
    var summary: String {
        switch self {
        case .typeMismatch(let type, _): return "expected a value of type \(type)"
        case .valueNotFound(let type, _): return "expected a value of type \(type), found null"
        case .keyNotFound(let key, _): return "required field '\(key.stringValue)' is missing"
        case .dataCorrupted(let c):
            let underlying = (c.underlyingError as? CustomStringConvertible)?.description ?? ""
            let detail = underlying.isEmpty ? c.debugDescription : underlying
            return "not valid JSON (\(detail.split(separator: "\n").first.map(String.init) ?? detail))"
        @unknown default: return "cannot decode"
        }
    }
}
