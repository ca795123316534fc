import Testing

@testable import Comm

/// The stall report's pure parts: a report survives its fixed-size message, and the line
/// names the ranks that never answered and groups the others by what they wait in.
@Suite struct StallWatchTests {
    typealias Report = StallWatch.Report

    @Test func aReportSurvivesItsMessage() {
        let r = Report(rank: 3, step: 1_234_567, waitedMilliseconds: 5_012, label: "conv2 backward halo exchange")
        let bytes = r.encoded()
        #expect(bytes.count == StallWatch.reportBytes)
        #expect(Report(rank: 3, bytes: bytes) == r)
        // A label longer than the message is cut, never overflows it.
        let long = Report(rank: 0, step: 1, waitedMilliseconds: 1, label: String(repeating: "x", count: 500))
        let back = Report(rank: 0, bytes: long.encoded())
        #expect(back.label.count == StallWatch.reportBytes - 9 && back.step == 1)
    }

    @Test func rankListsAreRuns() {
        #expect(StallWatch.rankList([3]) == "rank 3")
        #expect(StallWatch.rankList([2, 0, 1]) == "ranks 0-2")
        #expect(StallWatch.rankList([0, 2, 3, 5]) == "ranks 0, 2-3, 5")
    }

    @Test func theLineNamesTheMissingRanksAndWhatTheOthersWaitIn() {
        let halo = "conv2 backward halo exchange"
        let reports = [
            Report(rank: 2, step: 12, waitedMilliseconds: 5_400, label: halo),
            Report(rank: 0, step: 12, waitedMilliseconds: 5_010, label: halo),
            Report(rank: 1, step: 12, waitedMilliseconds: 700, label: "gradient allreduce"),
        ]
        #expect(StallWatch.describe(reports, size: 4)
            == "stall: rank 3 has not arrived after 5 s; ranks 0, 2 wait in conv2 backward halo exchange (step 12), rank 1 in gradient allreduce (step 12)")
        #expect(StallWatch.describe(Array(reports[1...]), size: 4).hasPrefix("stall: ranks 2-3 have not arrived after 5 s; rank 0 waits in "))
        #expect(StallWatch.describe(reports, size: 3).hasPrefix("stall: every rank has waited for 5 s, none can go on (a deadlock): "))
    }

    @Test func labelsNameTheOpAndThePhase() {
        #expect(Activity.Kind.backwardExchange.label(op: "conv2") == "conv2 backward halo exchange")
        #expect(Activity.Kind.gradientAllreduce.label(op: nil) == "gradient allreduce")
        #expect(Activity.Kind.forward.label(op: nil) == "? forward")
    }
}
