import Foundation
import Testing
import TestSupport

/// Real Open MPI jobs on this machine's ranks, started by mpirun through launch/local.
@Suite(.serialized) struct MPIRunTests {
    @Test(arguments: [1, 2, 3, 4]) func doctorRunsOnEveryRank(ranks: Int) throws {
        let r = try runMPI(ranks: ranks, "distconv", ["doctor"], timeout: 60)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("rank ") }
        #expect(lines.count == ranks)
        for (i, line) in lines.enumerated() {
            #expect(line.hasPrefix("rank \(i)/\(ranks) "), "lines out of rank order: \(r.stdout)")
            #expect(line.contains("Open MPI") && line.contains("OpenBLAS") && line.hasSuffix(" ok"))
        }
    }

    /// Under mpirun each rank works out its own part; it must equal what one process says
    /// about that rank.
    @Test(arguments: ["seed-tiled.json", "fashion-cnn.json"]) func partitionOnEveryRankAgreesWithOneProcess(model: String) throws {
        let dir = TemporaryFolders.make("partition")
        let path = packageRoot.appendingPathComponent("examples/\(model)").path
        for format in ["text", "json"] {
            let r = try runMPI(ranks: 4, "distconv", ["partition", "--model", path, "--format", format, "--output", dir], timeout: 60)
            #expect(r.status == 0, "\(r.stderr)")
            for rank in 0..<4 {
                let single = try runProduct("distconv", ["partition", "--model", path, "--ranks", "4", "--rank", String(rank), "--format", format])
                let file = "\(dir)/partition-rank\(rank).\(format)"
                let written = try String(contentsOfFile: file, encoding: .utf8)
                #expect(!written.isEmpty && written == single.stdout, "rank \(rank) \(format) differs")
            }
        }
    }

    /// A small CNN's partition drives the redistribution primitive: halo exchange of every
    /// forward tensor, partial sums added, gradients sent back into their owners.
    @Test(arguments: [1, 2, 3, 4]) func partitionLayoutsExchangeCorrectly(ranks: Int) throws {
        let r = try runMPI(ranks: ranks, "mpi-checks", ["partition-exchange"], timeout: 60)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("PASS partition-exchange on \(ranks) ranks"), "\(r.stdout)")
    }

    @Test func aBadGridFailsOnEveryRankWithOneMessage() throws {
        let path = packageRoot.appendingPathComponent("examples/seed-tiled.json").path
        let r = try runMPI(ranks: 2, "distconv", ["partition", "--model", path], timeout: 60)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("spans 4 ranks, but the job has 2"))
    }
}
