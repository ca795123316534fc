extension String {
    /// This text as the one line the CLI prints for an error: every line break and control
    /// character escaped (`\r`, `\u{0B}`), and past `limit` characters cut, saying how many
    /// were left out. Errors quote what they found in a file, and a file can hold anything.
    func errorLine(limit: Int = 500) -> String {
        var out = ""
        var count = 0
        for c in self {
            let text: String
            if c.isNewline || c.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                text = c.unicodeScalars.map { $0.escaped(asASCII: true) }.joined()
            } else {
                text = String(c)
            }
            count += 1
            if count > limit { continue }
            out += text
        }
        return count > limit ? out + "... (\(count - limit) more characters)" : out
    }
}
