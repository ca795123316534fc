/// A usage problem found after parsing (a value out of range); one line, exit code 2.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
