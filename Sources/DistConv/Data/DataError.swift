/// A problem with a data file a user gave: the file, the part of it (`file`, `gzip`,
/// `magic`, `header`, `dtype`, `fortran_order`, `shape`, `labels`, `classes`) and what is
/// wrong, with the values found. Printed as one line by the CLI, which exits with code 2:
///
///     /x/train-images-idx3-ubyte.gz: header: file holds 1000 bytes of pixels, the header promises 47040000 (truncated?)
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var field: String
    public var problem: String

    public init(file: String, field: String, _ problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(file): \(field): \(problem)".errorLine() }
}
