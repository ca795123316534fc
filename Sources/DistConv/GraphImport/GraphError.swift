/// A problem with a computation-graph dump a user gave: the file, the line (1-based) and
/// what was expected there. Printed as one line by the CLI, which exits with code 2.
///
/// A truncated file names the line after its last one (`line 808: the file ends here;
/// expected ...`); problems found while importing name the line of the tensor or op.
public struct GraphError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    /// 1-based line number; nil for problems with the file as a whole (cannot read it).
    public var line: Int?
    public var problem: String

    public init(file: String, line: Int?, _ problem: String) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String {
        guard let line else { return "\(file): \(problem)".errorLine() }
        return "\(file): line \(line): \(problem)".errorLine()
    }
}
