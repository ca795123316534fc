import ArgumentParser
import Comm
import Kernels

/// Checks a new machine or cluster: MPI starts, ranks see each other, an allreduce adds up.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what every rank runs on and check that an allreduce adds up.",
        discussion: "Example: mpirun -n 4 distconv doctor")

    func run() throws {
        let comm = try Communicator.world()
        let host = try comm.processorName()
        // Every rank contributes rank+1; the sum must be n(n+1)/2.
        let sum = try comm.allreduce(comm.rank + 1)
        let expected = comm.size * (comm.size + 1) / 2
        let ok = sum == expected
        // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"; "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21".
        let mpi = mpiLibraryVersion().split(separator: ",").first.map(String.init) ?? "unknown"
        let blas = BLASInfo.config.split(separator: " ").prefix(2).joined(separator: " ")
        let line = "rank \(comm.rank)/\(comm.size) host=\(host) mpi=\"\(mpi)\" "
            + "openblas=\"\(blas)\" core=\(BLASInfo.coreName) threads=\(BLASInfo.threads) "
            + "allreduce=\(sum) expected=\(expected) \(ok ? "ok" : "FAILED")"
        try printInRankOrder(line, comm: comm)
        if !ok { throw ExitCode(1) }
    }
}
