/// A checkpoint that cannot be written or read: the file, the tensor when one is at
/// fault, and what is wrong, in one line.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var tensor: String?
    public var problem: String

    public init(file: String, tensor: String? = nil, _ problem: String) {
        self.file = file
        self.tensor = tensor
        self.problem = problem
    }

    public var description: String {
        [file, tensor.map { "tensor '\($0)'" }, problem].compactMap { $0 }.joined(separator: ": ").errorLine()
    }
}
