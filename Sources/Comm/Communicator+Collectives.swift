import CMPI

/// Element types the collectives move, with their MPI datatype.
public protocol MPIScalar {
    static var mpiDatatype: MPI_Datatype { get }
}
extension Float: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_float() } }
extension Double: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_double() } }
extension Int: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_int64() } }

/// Reduction operators for `allreduce`.
public enum ReduceOperation: Sendable {
    case sum, max, min
    var handle: MPI_Op {
        switch self {
        case .sum: return cmpi_op_sum()
        case .max: return cmpi_op_max()
        case .min: return cmpi_op_min()
        }
    }
}

extension Communicator {
    /// Combines `values` element-wise across all ranks, in place; every rank gets the result.
    public func allreduce<T: MPIScalar>(_ values: inout [T], _ op: ReduceOperation = .sum) throws {
        let n = Int32(values.count)
        let code = values.withUnsafeMutableBytes { buf in
            MPI_Allreduce(cmpi_in_place(), buf.baseAddress, n, T.mpiDatatype, op.handle, handle)
        }
        try check(code, "MPI_Allreduce", rank: rank)
    }

    /// One value reduced across ranks.
    public func allreduce<T: MPIScalar>(_ value: T, _ op: ReduceOperation = .sum) throws -> T {
        var v = [value]
        try allreduce(&v, op)
        return v[0]
    }
}
