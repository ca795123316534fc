extension NPYHeader {
    /// A value of the header dict: the subset of Python literals `.npy` headers use.
    enum Value: CustomStringConvertible {
        case string(String)
        case bool(Bool)
        case integer(Int)
        case tuple([Int])
        case other(String)

        var description: String {
            switch self {
            case .string(let s): "'\(s)'"
            case .bool(let b): b ? "True" : "False"
            case .integer(let i): "\(i)"
            case .tuple(let t): "(" + t.map(String.init).joined(separator: ", ") + ")"
            case .other(let s): s
            }
        }
    }

    /// Recursive descent over `{ key: value, ... }` with string keys; values are strings,
    /// True/False, integers and tuples of integers. A list or nested dict (a structured
    /// dtype) is skipped to its closing bracket and kept as `.other`.
    struct Parser {
        let text: [UInt8]
        let file: String
        var at = 0

        init(text: [UInt8], file: String) {
            self.text = text
            self.file = file
        }

        mutating func dictionary() throws(DataError) -> [String: Value] {
            try expect("{")
            var dict: [String: Value] = [:]
            while true {
                skipSpace()
                if peek() == "}" { at += 1; return dict }
                guard case .string(let key) = try value() else { throw failure("a string key") }
                try expect(":")
                dict[key] = try value()
                skipSpace()
                if peek() == "," { at += 1; continue }
                try expect("}")
                return dict
            }
        }

        private mutating func value() throws(DataError) -> Value {
            skipSpace()
            guard let c = peek() else { throw failure("a value") }
            switch c {
            case "'", "\"":
                at += 1
                let start = at
                while let d = peek(), d != c { at += 1 }
                guard peek() == c else { throw failure("the closing quote") }
                defer { at += 1 }
                return .string(String(decoding: text[start..<at], as: UTF8.self))
            case "(":
                at += 1
                var items: [Int] = []
                while true {
                    skipSpace()
                    if peek() == ")" { at += 1; return .tuple(items) }
                    guard case .integer(let i) = try value() else { throw failure("an integer in the shape") }
                    items.append(i)
                    skipSpace()
                    if peek() == "," { at += 1; continue }
                    try expect(")")
                    return .tuple(items)
                }
            case "[", "{":
                let start = at
                var depth = 0
                repeat {
                    guard let d = peek() else { throw failure("a closing bracket") }
                    if d == "[" || d == "{" || d == "(" { depth += 1 }
                    if d == "]" || d == "}" || d == ")" { depth -= 1 }
                    at += 1
                } while depth > 0
                return .other(String(decoding: text[start..<at], as: UTF8.self))
            default:
                let start = at
                while let d = peek(), d.isLetter || d.isNumber || d == "-" || d == "_" { at += 1 }
                let word = String(decoding: text[start..<at], as: UTF8.self)
                // Python 2 wrote shapes as longs: (60000L, 28L, 28L).
                let digits = word.hasSuffix("L") ? String(word.dropLast()) : word
                if word == "True" { return .bool(true) }
                if word == "False" { return .bool(false) }
                if let i = Int(digits) { return .integer(i) }
                at = start
                throw failure("a value")
            }
        }

        private func peek() -> Character? { at < text.count ? Character(Unicode.Scalar(text[at])) : nil }

        private mutating func skipSpace() { while let c = peek(), c.isWhitespace { at += 1 } }

        private mutating func expect(_ c: Character) throws(DataError) {
            skipSpace()
            guard peek() == c else { throw failure("'\(c)'") }
            at += 1
        }

        private func failure(_ expected: String) -> DataError {
            let found = peek().map { "'\($0)'" } ?? "the end"
            let header = String(decoding: text, as: UTF8.self).trimmingSpace()
            return DataError(
                file: file, field: "header", "expected \(expected) at character \(at), found \(found) in \(header)")
        }
    }
}

extension String {
    fileprivate func trimmingSpace() -> String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        return String(s)
    }
}
