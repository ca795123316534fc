/// A failed MPI call, named, with the rank it failed on and MPI's own error text.
public enum CommError: Error, CustomStringConvertible, Equatable {
    case mpi(call: String, rank: Int, code: Int32, message: String)
    case invalidArgument(call: String, rank: Int, reason: String)

    public var description: String {
        switch self {
        case let .mpi(call, rank, code, message):
            return "rank \(rank): \(call) failed with MPI error \(code): \(message)"
        case let .invalidArgument(call, rank, reason):
            return "rank \(rank): \(call): \(reason)"
        }
    }
}
