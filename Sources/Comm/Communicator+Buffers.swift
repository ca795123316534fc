import CMPI

extension Communicator {
    /// Sums (or combines) `buffer` element-wise across all ranks, in place, without
    /// copying it: the form the training runtime uses on its arena and parameter buffers.
    public func allreduce<T: MPIScalar>(
        _ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation = .sum
    ) throws(CommError) {
        let n = try mpiCount(buffer.count, "MPI_Allreduce")
        guard n > 0 else { return }
        let code = collective(
            { MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, n, T.mpiDatatype, op.handle, handle) },
            { MPI_Iallreduce(cmpi_in_place(), buffer.baseAddress, n, T.mpiDatatype, op.handle, handle, $0) })
        try check(code, "MPI_Allreduce", rank: rank)
    }

    /// Starts an in-place allreduce of `buffer`; it completes in `waitAll(requests)` (or
    /// `waitAny`), and the buffer must stay valid and untouched until then. Every rank
    /// must start the same allreduces in the same order.
    public func iallreduce<T: MPIScalar>(
        _ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation = .sum, requests: RequestSet
    ) throws(CommError) {
        let n = try mpiCount(buffer.count, "MPI_Iallreduce")
        guard n > 0 else { return }
        let code = MPI_Iallreduce(
            cmpi_in_place(), buffer.baseAddress, n, T.mpiDatatype, op.handle, handle, requests.nextSlot())
        try check(code, "MPI_Iallreduce", rank: rank)
        requests.commitSlot()
    }

    /// Every rank's `values` in rank order, into `result` (`size * values.count`
    /// elements). Every rank must pass the same count.
    public func allgather<T: MPIScalar>(
        _ values: UnsafeBufferPointer<T>, into result: UnsafeMutableBufferPointer<T>
    ) throws(CommError) {
        precondition(
            result.count == values.count * size,
            "allgather of \(values.count) per rank into \(result.count) on \(size) ranks")
        let n = try mpiCount(values.count, "MPI_Allgather")
        guard n > 0 else { return }
        let code = collective(
            { MPI_Allgather(values.baseAddress, n, T.mpiDatatype, result.baseAddress, n, T.mpiDatatype, handle) },
            { MPI_Iallgather(values.baseAddress, n, T.mpiDatatype, result.baseAddress, n, T.mpiDatatype, handle, $0) })
        try check(code, "MPI_Allgather", rank: rank)
    }
}
