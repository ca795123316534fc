import Comm

#if canImport(Glibc)
import Glibc
#endif

/// Prints one line per rank, rank 0 first, so the output of a job reads in order.
/// Ranks take turns between barriers; lines of a few hundred bytes each.
func printInRankOrder(_ line: String, comm: Communicator) throws {
    for r in 0..<comm.size {
        if r == comm.rank {
            print(line)
            fflush(nil)
        }
        try comm.barrier()
    }
}
