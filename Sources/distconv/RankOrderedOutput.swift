import Comm

#if canImport(Glibc)
import Glibc
#endif

/// Prints every rank's text on rank 0, rank 0's first, so a job's output reads in order.
///
/// Barriers between ranks' prints would not do: mpirun forwards each rank's stdout on its
/// own schedule. The texts are gathered instead (bytes as `Int`, fine for reports of a
/// few kilobytes per rank).
func printInRankOrder(_ text: String, comm: Communicator) throws {
    let bytes = text.utf8.map { Int($0) }
    let lengths = try comm.allgather(bytes.count)
    let longest = lengths.max() ?? 0
    guard longest > 0 else { return }
    let all = try comm.allgather(bytes + Array(repeating: 0, count: longest - bytes.count))
    guard comm.rank == 0 else { return }
    for r in 0..<comm.size {
        let start = r * longest
        print(String(decoding: all[start..<(start + lengths[r])].map { UInt8($0) }, as: UTF8.self))
    }
    fflush(nil)
}
