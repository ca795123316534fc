import Foundation

/// A partition dump read back: entry name -> field -> value, with runs of white space
/// folded so the comparison is about the numbers, not the alignment.
struct DumpText {
    var entries: [String: [String: String]] = [:]
    var order: [String] = []

    init(_ text: String) {
        var current: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { current = nil; continue }
            if let eq = line.firstIndex(of: "="), current != nil {
                let key = String(line[..<eq])
                entries[current!]![key] = fold(String(line[line.index(after: eq)...]))
            } else {
                current = line
                if entries[line] == nil { order.append(line) }
                entries[line] = entries[line] ?? [:]
            }
        }
    }

    init(contentsOf url: URL) throws { self.init(try String(contentsOf: url, encoding: .utf8)) }
}

func fold(_ s: String) -> String {
    s.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        .replacingOccurrences(of: "[ ", with: "[")
}
