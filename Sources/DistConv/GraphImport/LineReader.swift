/// Hands out the lines of a text file one by one with their 1-based numbers, and turns
/// "the file ended" and "this line is not what was expected" into `GraphError`s.
struct LineReader {
    let source: String
    private let lines: [Substring]
    /// Index of the next line to hand out (its line number is `next + 1`).
    private var next = 0

    init(text: String, source: String) {
        self.source = source
        // "\r\n" is one Character in Swift, so splitting on "\n" alone would not split it.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        // A final newline (or several) is not a line of content.
        while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
        self.lines = lines
    }

    /// The number the next line has (one past the end for a file that has ended).
    var lineNumber: Int { next + 1 }
    var isAtEnd: Bool { next >= lines.count }
    /// Lines not yet handed out.
    var remaining: Int { lines.count - next }

    func error(_ line: Int, _ problem: String) -> GraphError {
        GraphError(file: source, line: line, problem)
    }

    /// The next line, trimmed; throws naming `expected` when the file has ended.
    mutating func line(expecting expected: String) throws(GraphError) -> (number: Int, text: Substring) {
        guard !isAtEnd else { throw error(lineNumber, "the file ends here; expected \(expected)") }
        defer { next += 1 }
        return (next + 1, lines[next].trimmingWhitespace)
    }

    /// The next line as exactly `count` whitespace-separated integers.
    mutating func integers(_ count: Int, expecting expected: String) throws(GraphError) -> (number: Int, values: [Int])
    {
        let (n, text) = try line(expecting: expected)
        let fields = text.split(whereSeparator: \.isWhitespace)
        let values = fields.compactMap { Int($0) }
        guard fields.count == count, values.count == count else {
            throw error(n, "expected \(expected), found '\(text.prefix(80))'")
        }
        return (n, values)
    }
}

extension Substring {
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<end]
    }
}
