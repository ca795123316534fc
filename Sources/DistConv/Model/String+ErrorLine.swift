extension String {
    /// This text as the one line the CLI prints for an error: every line break and control
    /// character escaped (`\r`, `\u{0B}`), and cut where the printed text would pass `limit`
    /// characters, saying how many of the original were left out. Errors quote what they
    /// found in a file, and a file can hold anything.
    func errorLine(limit: Int = 500) -> String {
        var out = ""
        var printed = 0
        var left = 0
        for c in self {
            if left > 0 {
                left += 1
                continue
            }
            let escape = c.isNewline || c.unicodeScalars.contains { $0.properties.generalCategory == .control }
            let text = escape ? c.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() : String(c)
            let width = escape ? text.count : 1
            guard printed + width <= limit else {
                left = 1
                continue
            }
            out += text
            printed += width
        }
        return left > 0 ? out + "... (\(left) more characters)" : out
    }
}
