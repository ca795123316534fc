// A program the integration tests start under mpirun. Each check runs on every rank,
// agrees on pass/fail with an allreduce (so one failing rank cannot leave the others
// waiting), prints one line per failure, and exits 0 only when every rank passed.
//
//   launch/local -n 3 .build/debug/mpi-checks CHECK [ARGS...]
import Comm

#if canImport(Glibc)
    import Glibc
#endif

let checks: [String: (Communicator, [String]) throws -> [String]] = [
    "allreduce": checkAllreduce,
    "collectives": checkCollectives,
    "redistribute": checkRedistributions,
    "fail-exchange": checkFailingExchange,
    "partition-exchange": checkPartitionExchange,
    "gradients": checkGradients,
]

func checkAllreduce(_ comm: Communicator, _ args: [String]) throws -> [String] {
    let total = try comm.allreduce(Double(comm.rank) + 0.5)
    let expected = Double(comm.size * (comm.size - 1)) / 2 + 0.5 * Double(comm.size)
    return total == expected ? [] : ["allreduce gave \(total), expected \(expected)"]
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let check = checks[name] else {
    print("usage: mpi-checks CHECK [ARGS...]; checks: \(checks.keys.sorted().joined(separator: ", "))")
    exit(2)
}
do {
    let comm = try Communicator.world()
    let failures = try check(comm, Array(arguments.dropFirst()))
    for f in failures { print("rank \(comm.rank): FAIL \(name): \(f)") }
    let failedRanks = try comm.allreduce(failures.isEmpty ? 0 : 1)
    if comm.rank == 0 {
        print(
            failedRanks == 0
                ? "PASS \(name) on \(comm.size) ranks" : "FAIL \(name): \(failedRanks) of \(comm.size) ranks failed")
    }
    fflush(nil)
    exit(failedRanks == 0 ? 0 : 1)
} catch {
    print("FAIL \(name): \(error)")
    exit(1)
}
