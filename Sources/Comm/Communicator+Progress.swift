import CMPI

extension Communicator {
    /// Lets the MPI library move the messages in flight along, without waiting, and
    /// returns. Open MPI has no progress thread for its shared-memory transport: a message
    /// above the eager limit (4 KB) is only read (with a CMA single copy, by the receiver)
    /// and acknowledged inside some MPI call of both ranks. A rank that computes between
    /// posting and waiting therefore hides the transfer only if it calls into MPI now and
    /// then; this is that call (an `MPI_Iprobe` for `tag` from any source, whose answer is
    /// ignored: it changes no request and receives nothing).
    public func progress(tag: Int = 0) throws(CommError) {
        var flag: Int32 = 0
        try check(
            MPI_Iprobe(cmpi_any_source(), Int32(tag), handle, &flag, cmpi_status_ignore()), "MPI_Iprobe", rank: rank)
    }
}
