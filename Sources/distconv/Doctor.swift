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
        let line = "rank \(comm.rank)/\(comm.size) host=\(host) mpi=\"\(mpiLibraryVersion())\" "
            + "openblas=\"\(BLASInfo.config)\" core=\(BLASInfo.coreName) threads=\(BLASInfo.threads) "
            + "allreduce=\(sum) expected=\(expected) \(ok ? "ok" : "FAILED")"
        try printInRankOrder(line, comm: comm)
        if !ok { throw ExitCode(1) }
    }
}
