import CMPI

extension Communicator {
    /// Starts sending `bytes` to `peer`; completes in `waitAll(requests)`. The buffer must
    /// stay valid and unchanged until then. An empty buffer still sends an empty message.
    public func isend(
        _ bytes: UnsafeRawBufferPointer, to peer: Int, tag: Int = 0, requests: RequestSet
    ) throws(CommError) {
        try checkPeer(peer, "MPI_Isend")
        let n = try mpiCount(bytes.count, "MPI_Isend")
        let code = MPI_Isend(
            bytes.baseAddress, n, cmpi_byte(), Int32(peer), Int32(tag), handle,
            requests.nextSlot())
        try check(code, "MPI_Isend", rank: rank)
        requests.commitSlot()
    }

    /// Starts receiving exactly `bytes.count` bytes from `peer`; completes in
    /// `waitAll(requests)`. A longer message is an MPI truncation error there.
    public func irecv(
        _ bytes: UnsafeMutableRawBufferPointer, from peer: Int, tag: Int = 0, requests: RequestSet
    ) throws(CommError) {
        try checkPeer(peer, "MPI_Irecv")
        let n = try mpiCount(bytes.count, "MPI_Irecv")
        let code = MPI_Irecv(
            bytes.baseAddress, n, cmpi_byte(), Int32(peer), Int32(tag), handle,
            requests.nextSlot())
        try check(code, "MPI_Irecv", rank: rank)
        requests.commitSlot()
    }

    /// Starts receiving one element of `datatype` (a derived datatype saying where the
    /// message's bytes go, relative to `base`); completes in `waitAll(requests)`.
    func irecv<T>(
        _ base: UnsafeMutablePointer<T>?, datatype: MPI_Datatype?, from peer: Int, tag: Int, requests: RequestSet
    ) throws(CommError) {
        try checkPeer(peer, "MPI_Irecv")
        let code = MPI_Irecv(base, 1, datatype, Int32(peer), Int32(tag), handle, requests.nextSlot())
        try check(code, "MPI_Irecv", rank: rank)
        requests.commitSlot()
    }

    /// Typed `isend`: the elements of `values`.
    public func isend<T: MPIScalar>(
        _ values: UnsafeBufferPointer<T>, to peer: Int, tag: Int = 0, requests: RequestSet
    ) throws(CommError) {
        try isend(UnsafeRawBufferPointer(values), to: peer, tag: tag, requests: requests)
    }

    /// Typed `irecv`: exactly `values.count` elements.
    public func irecv<T: MPIScalar>(
        _ values: UnsafeMutableBufferPointer<T>, from peer: Int, tag: Int = 0, requests: RequestSet
    ) throws(CommError) {
        try irecv(UnsafeMutableRawBufferPointer(values), from: peer, tag: tag, requests: requests)
    }

    /// Waits until every operation in `requests` has completed, then empties the set.
    /// On an error the set is emptied too; the operations' state is then undefined, and
    /// the caller should end the job (see `abort`). Under a `StallWatch` timeout the wait
    /// polls and a stall ends the job.
    public func waitAll(_ requests: RequestSet) throws(CommError) {
        guard requests.count > 0 else { return }
        let n = Int32(requests.count)
        defer { requests.clear() }
        if StallWatch.timeout > 0 {
            let code = StallWatch.poll {
                var flag: Int32 = 0
                let code = MPI_Testall(n, requests.handles, &flag, cmpi_statuses_ignore())
                return (code, flag != 0)
            }
            try check(code, "MPI_Testall", rank: rank)
            return
        }
        try check(MPI_Waitall(n, requests.handles, cmpi_statuses_ignore()), "MPI_Waitall", rank: rank)
    }

    /// Waits until one more operation of `requests` has completed and returns its index
    /// (in posting order, counting from 0 since the last time the set was emptied). Returns
    /// nil, and empties the set, once every operation has completed and been returned.
    public func waitAny(_ requests: RequestSet) throws(CommError) -> Int? {
        guard requests.count > 0 else { return nil }
        var index: Int32 = 0
        let count = Int32(requests.count)
        let code: Int32
        if StallWatch.timeout > 0 {
            code = StallWatch.poll {
                var flag: Int32 = 0
                let c = MPI_Testany(count, requests.handles, &index, &flag, cmpi_status_ignore())
                return (c, flag != 0)
            }
        } else {
            code = MPI_Waitany(count, requests.handles, &index, cmpi_status_ignore())
        }
        if code != cmpi_success() { requests.clear() }
        try check(code, StallWatch.timeout > 0 ? "MPI_Testany" : "MPI_Waitany", rank: rank)
        if index == cmpi_undefined() {
            requests.clear()
            return nil
        }
        return Int(index)
    }

    private func checkPeer(_ peer: Int, _ call: String) throws(CommError) {
        guard peer >= 0 && peer < size else {
            throw CommError.invalidArgument(
                call: call, rank: rank, reason: "peer \(peer) outside 0..<\(size)")
        }
    }
}
