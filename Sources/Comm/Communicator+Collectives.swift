import CMPI

extension Communicator {
    /// Combines `values` element-wise across all ranks, in place; every rank gets the
    /// result. Every rank must pass the same count.
    public func allreduce<T: MPIScalar>(_ values: inout [T], _ op: ReduceOperation = .sum) throws(CommError) {
        let n = try mpiCount(values.count, "MPI_Allreduce")
        let code = values.withUnsafeMutableBytes { buf in
            collective(
                { MPI_Allreduce(cmpi_in_place(), buf.baseAddress, n, T.mpiDatatype, op.handle, handle) },
                { MPI_Iallreduce(cmpi_in_place(), buf.baseAddress, n, T.mpiDatatype, op.handle, handle, $0) })
        }
        try check(code, "MPI_Allreduce", rank: rank)
    }

    /// One value reduced across ranks.
    public func allreduce<T: MPIScalar>(_ value: T, _ op: ReduceOperation = .sum) throws(CommError) -> T {
        var v = [value]
        try allreduce(&v, op)
        return v[0]
    }

    /// Replaces `values` on every rank with those of `root`. Every rank must pass the same
    /// count.
    public func broadcast<T: MPIScalar>(_ values: inout [T], root: Int = 0) throws(CommError) {
        precondition(root >= 0 && root < size, "broadcast root \(root) outside 0..<\(size)")
        let n = try mpiCount(values.count, "MPI_Bcast")
        let code = values.withUnsafeMutableBytes { buf in
            collective(
                { MPI_Bcast(buf.baseAddress, n, T.mpiDatatype, Int32(root), handle) },
                { MPI_Ibcast(buf.baseAddress, n, T.mpiDatatype, Int32(root), handle, $0) })
        }
        try check(code, "MPI_Bcast", rank: rank)
    }

    /// `root`'s value, on every rank.
    public func broadcast<T: MPIScalar>(_ value: T, root: Int = 0) throws(CommError) -> T {
        var v = [value]
        try broadcast(&v, root: root)
        return v[0]
    }

    /// Every rank's `values`, concatenated in rank order: `size * values.count` elements.
    /// Every rank must pass the same count; an empty contribution gives an empty result.
    public func allgather<T: MPIScalar>(_ values: [T]) throws(CommError) -> [T] {
        let n = try mpiCount(values.count, "MPI_Allgather")
        guard n > 0 else { return [] }
        var result = [T](unsafeUninitializedCapacity: values.count * size) { _, count in
            count = values.count * size
        }
        let code = values.withUnsafeBytes { send in
            result.withUnsafeMutableBytes { receive in
                collective(
                    { MPI_Allgather(send.baseAddress, n, T.mpiDatatype, receive.baseAddress, n, T.mpiDatatype, handle) },
                    { MPI_Iallgather(send.baseAddress, n, T.mpiDatatype, receive.baseAddress, n, T.mpiDatatype, handle, $0) })
            }
        }
        try check(code, "MPI_Allgather", rank: rank)
        return result
    }

    /// Every rank's value, in rank order.
    public func allgather<T: MPIScalar>(_ value: T) throws(CommError) -> [T] {
        try allgather([value])
    }

    /// An element count as MPI's `int`, or an error naming the call when it does not fit.
    func mpiCount(_ count: Int, _ call: String) throws(CommError) -> Int32 {
        guard let n = Int32(exactly: count) else {
            throw CommError.invalidArgument(
                call: call, rank: rank, reason: "count \(count) exceeds MPI's int range")
        }
        return n
    }
}
