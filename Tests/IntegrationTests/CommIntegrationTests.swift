import Foundation
import TestSupport
import Testing

/// The Comm module under real mpirun jobs (`mpi-checks`), at every rank count from 1 to 4.
@Suite(.serialized) struct CommIntegrationTests {
    /// Scenarios of `mpi-checks redistribute`; each must report `ok` on every rank count.
    static let scenarios = [
        "halo-2d", "halo-nchw", "halo-in-place", "halo-blocked", "start-finish", "uneven-split", "wide-halo", "spatial-batch", "gather", "scatter",
        "weights-8d",
        "overlapping-writers", "idle-rank", "reverse-halo", "reduce-scatter", "cache",
    ]

    @Test(arguments: [1, 2, 3, 4]) func collectivesAndPointToPoint(ranks: Int) throws {
        let r = try runMPI(ranks: ranks, "mpi-checks", ["collectives"], timeout: 60)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("PASS collectives on \(ranks) ranks"), "\(r.stdout)")
    }

    /// Each rank fills what it writes from a formula of the global index, exchanges, and
    /// checks every element it reads: halos (2-D, over all of N, C, H, W, blocked 5-D,
    /// uneven, wider than a block), start/finish against execute (bitwise), 2x2 <-> batch, gather, scatter, 8-D weights, overlapping writers, idle ranks,
    /// reverse halo and reduce-scatter (sums), and the plan cache.
    @Test(arguments: [1, 2, 3, 4]) func everyRedistributionPattern(ranks: Int) throws {
        let r = try runMPI(ranks: ranks, "mpi-checks", ["redistribute"], timeout: 120)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("PASS redistribute on \(ranks) ranks"), "\(r.stdout)")
        for scenario in Self.scenarios {
            #expect(
                r.stdout.contains("ok \(scenario)\n") && !r.stdout.contains("not ok \(scenario)\n"),
                "\(scenario) on \(ranks) ranks: \(r.stdout)")
        }
    }

    /// One rank's exchange fails (a buffer one element short): the job ends, non-zero,
    /// with that rank's one-line reason, instead of the other ranks waiting forever.
    @Test(arguments: [2, 4]) func aFailingRankEndsTheJob(ranks: Int) throws {
        let failing = min(2, ranks - 1)
        let r = try runMPI(ranks: ranks, "mpi-checks", ["fail-exchange"], timeout: 10)
        #expect(!r.timedOut, "the job hung: \(r.stdout)\n\(r.stderr)")
        #expect(r.status != 0)
        let output = r.stdout + r.stderr
        #expect(output.contains("distconv: rank \(failing): Redistribution.execute: buffer holds"), "\(output)")
        #expect(!output.contains("did not abort"), "\(output)")
    }
}
