/// A problem with a model a user gave: which file, which op, which field, what is wrong.
/// Printed as one line by the CLI, which exits with code 2.
public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var op: String?
    public var field: String?
    public var problem: String

    public init(file: String, op: String? = nil, field: String? = nil, _ problem: String) {
        self.file = file
        self.op = op
        self.field = field
        self.problem = problem
    }

    public var description: String {
        var parts = [file]
        if let op { parts.append("op '\(op)'") }
        if let field { parts.append("field '\(field)'") }
        parts.append(problem)
        return parts.joined(separator: ": ").errorLine()
    }
}
