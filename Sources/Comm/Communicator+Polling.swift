import CMPI

extension Communicator {
    /// Runs one collective: MPI's blocking call when the stall watch is off, else its
    /// non-blocking twin, polled by `StallWatch` (which ends the job on a stall).
    /// Returns MPI's code for `check`.
    func collective(
        _ blocking: () -> Int32, _ nonblocking: (UnsafeMutablePointer<MPI_Request?>) -> Int32
    ) -> Int32 {
        guard StallWatch.timeout > 0 else { return blocking() }
        var request: MPI_Request? = cmpi_request_null()
        let started = nonblocking(&request)
        guard started == cmpi_success() else { return started }
        return StallWatch.poll {
            var flag: Int32 = 0
            let code = MPI_Test(&request, &flag, cmpi_status_ignore())
            return (code, flag != 0)
        }
    }
}
