import Comm
import Geometry
import TestSupport
import Testing

/// The planner over hundreds of random layout pairs (fixed seed), checked element by
/// element against the rule of DESIGN.md §2.
@Suite struct RedistributionPlanTests {
    static let cases = 400

    /// Every plan of a layout pair, one per rank.
    func plans(_ a: TensorLayout, _ b: TensorLayout, _ mode: RedistributionMode) -> [RedistributionPlan] {
        (0..<a.ranks).map { RedistributionPlan(from: a, to: b, rank: $0, mode: mode) }
    }

    /// For reader `r`: per writer, the rects it contributes (local copies for `r` itself).
    func contributions(_ plan: RedistributionPlan) -> [Int: [Rect]] {
        var result: [Int: [Rect]] = [:]
        for t in plan.receives { result[t.peer] = t.rects }
        if !plan.localCopies.isEmpty { result[plan.rank] = plan.localCopies }
        return result
    }

    @Test func copyCoversEveryReadElementExactlyOnceFromTheRightWriter() {
        var rng = SplitMix64(seed: 0x00C0_FFEE)
        var elementsChecked = 0
        for _ in 0..<Self.cases {
            let (a, b) = RandomLayouts.pair(&rng)
            for plan in plans(a, b, .copy) {
                let r = plan.rank
                let read = b.read[r]
                #expect(plan.target == read && plan.source == a.write[r])
                var counts = [Int](repeating: 0, count: read.volume)
                for (writer, rects) in contributions(plan) {
                    for rect in rects {
                        #expect(
                            read.contains(rect) && a.write[writer].contains(rect),
                            "rank \(r) takes \(rect) from \(writer), outside \(read) or \(a.write[writer])")
                        for p in rect.points {
                            counts[read.linearIndex(of: p)] += 1
                            let owners = (0..<a.ranks).filter { a.write[$0].contains(point: p) }
                            let expected = owners.contains(r) ? r : owners.min()
                            #expect(
                                writer == expected,
                                "rank \(r) takes \(p) from \(writer), expected \(String(describing: expected))")
                        }
                    }
                }
                for p in read.points {
                    let written = (0..<a.ranks).contains { a.write[$0].contains(point: p) }
                    #expect(
                        counts[read.linearIndex(of: p)] == (written ? 1 : 0),
                        "rank \(r) element \(p) covered \(counts[read.linearIndex(of: p)]) times")
                    elementsChecked += 1
                }
            }
        }
        #expect(elementsChecked > 10_000)
    }

    @Test func accumulateTakesEveryContributionExactlyOnce() {
        var rng = SplitMix64(seed: 0xACC0_0001)
        for _ in 0..<Self.cases {
            let (a, b) = RandomLayouts.pair(&rng)
            for plan in plans(a, b, .accumulate) {
                let r = plan.rank
                let read = b.read[r]
                let byWriter = contributions(plan)
                for q in 0..<a.ranks {
                    let overlap = read.intersection(a.write[q])
                    let rects = byWriter[q] ?? []
                    #expect(
                        rects.allSatisfy { overlap.contains($0) }, "rank \(r) from \(q): \(rects) outside \(overlap)")
                    #expect(
                        rects.reduce(0) { $0 + $1.volume } == overlap.volume,
                        "rank \(r) from \(q): \(rects) do not add up to \(overlap)")
                    for p in overlap.points {
                        #expect(rects.filter { $0.contains(point: p) }.count == 1, "rank \(r) from \(q) at \(p)")
                    }
                }
            }
        }
    }

    @Test(arguments: [RedistributionMode.copy, .accumulate])
    func sendsAndReceivesMatchPairwise(mode: RedistributionMode) {
        var rng = SplitMix64(seed: 0x5EED_0004)
        for _ in 0..<Self.cases {
            let (a, b) = RandomLayouts.pair(&rng)
            let all = plans(a, b, mode)
            for plan in all {
                #expect(plan.sends.allSatisfy { $0.peer != plan.rank && !$0.rects.isEmpty })
                #expect(plan.receives.allSatisfy { $0.peer != plan.rank && !$0.rects.isEmpty })
                #expect(plan.sends.map(\.peer) == plan.sends.map(\.peer).sorted())
                for send in plan.sends {
                    let match = all[send.peer].receives.first { $0.peer == plan.rank }
                    #expect(match?.rects == send.rects, "\(plan.rank) -> \(send.peer)")
                }
                for receive in plan.receives {
                    #expect(all[receive.peer].sends.contains { $0.peer == plan.rank })
                }
            }
        }
    }

    @Test func haloOnA2x2GridTalksToAllThreeNeighbours() {
        let layout = TensorLayout.blocks(
            shape: [1, 2, 8, 8], grid: ProcessGrid(shape: [1, 1, 2, 2]), halo: [0, 0, 1, 1])
        let plan = RedistributionPlan(from: layout, to: layout, rank: 0, mode: .copy)
        #expect(plan.receives.map(\.peer) == [1, 2, 3])
        #expect(plan.receives.map(\.count) == [2 * 4, 2 * 4, 2])
        #expect(plan.localCopies == [layout.write[0]])
    }

    @Test func wideHaloReachesTwoRanksAway() {
        let layout = TensorLayout.blocks(shape: [9], grid: ProcessGrid(shape: [3]), halo: [4])
        let plan = RedistributionPlan(from: layout, to: layout, rank: 0, mode: .copy)
        #expect(plan.receives.map(\.peer) == [1, 2])
        #expect(plan.receives.map(\.rects) == [[Rect(origin: [3], size: [3])], [Rect(origin: [6], size: [1])]])
    }

    @Test func reduceScatterSumsEveryRanksPartials() {
        let shape = [8, 30, 1, 1]
        let a = TensorLayout.replicated(shape: shape, ranks: 4)
        let b = TensorLayout.blocks(shape: shape, grid: ProcessGrid(shape: [4, 1, 1, 1]))
        let plan = RedistributionPlan(from: a, to: b, rank: 2, mode: .accumulate)
        #expect(plan.receives.map(\.peer) == [0, 1, 3])
        #expect(plan.receives.allSatisfy { $0.rects == [b.write[2]] })
        #expect(plan.sends.map(\.rects) == [[b.write[0]], [b.write[1]], [b.write[3]]])
        #expect(plan.localCopies == [b.write[2]])
    }
}

@Suite struct RedistributionPlanDescriptionTests {
    @Test func listsEveryMessage() {
        let layout = TensorLayout.blocks(shape: [4], grid: ProcessGrid(shape: [2]), halo: [1])
        let text = RedistributionPlan(from: layout, to: layout, rank: 0, mode: .copy).description
        #expect(
            text.hasPrefix("rank 0, copy: 1 receives (1 elements), 1 sends (1 elements), 1 local copies (2 elements)"))
        #expect(text.contains("  receive from 1: Rect(array([2], dtype=int32), array([1], dtype=int32))"))
    }
}
