import DistConv
import Foundation
import Testing

@Suite struct PlanningVGGTests {
    func plan(_ policy: GridPolicy, ranks: Int) throws -> (MemoryPlan, ImportedGraph) {
        let g = try GraphFixtures.vgg()
        let partition = try Partition(model: try policy.apply(to: g.model, ranks: ranks), ranks: ranks)
        return (try MemoryPlan(partition: partition), g)
    }

    @Test func oneRankReproducesTheDumpsTotals() throws {
        let (plan, g) = try plan(.spatial, ranks: 1)
        let totals = GraphTotals(imported: g, plan: plan)
        #expect(totals.tensors == 86 && totals.ops == 92)
        #expect(totals.totalBytes == 4_598_445_348 && totals.bytesPerRank == [4_598_445_348])
        #expect(totals.parameterBytes == 574_668_960 && plan.rankPlans[0].parameterBytes == 574_668_960)
        #expect(plan.steps.count == 93)  // the data op, then the dump's 46 forward and 46 backward ops
        let backward = plan.steps.filter { $0.phase == .backward }.map(\.name)
        #expect(Set(backward) == Set(g.opNames.filter { $0.hasSuffix(".grad") }) && backward.count == 46)
        let text = plan.text(graph: totals)
        #expect(
            text.contains(
                "86 tensors, 92 ops, 4,598,445,348 bytes if every tensor lived at once, 574,668,960 bytes of parameters"
            ))
    }

    @Test(arguments: GridPolicy.allCases, [1, 2, 4, 8])
    func arenaIsWithinTwoPercentOfTheLowerBound(policy: GridPolicy, ranks: Int) throws {
        let (plan, _) = try plan(policy, ranks: ranks)
        for p in plan.rankPlans {
            #expect(p.ratio <= 1.02, "rank \(p.rank): arena \(p.arenaBytes), bound \(p.lowerBound)")
            let requests = p.buffers.map { ArenaRequest(size: $0.bytes, lifetime: $0.lifetime) }
            #expect(ArenaAllocator.firstConflict(requests, offsets: p.buffers.map(\.offset)) == nil)
            #expect(p.buffers.allSatisfy { $0.offset % 64 == 0 })
        }
        #expect(plan.text().contains("arena/bound"))
    }

    @Test func twoByTwoSpatialHoldsAtMostThirtyPercentOfTheActivations() throws {
        let one = try plan(.spatial, ranks: 1).0.rankPlans[0].activationBytes
        let (four, _) = try plan(.spatial, ranks: 4)
        #expect(four.partition.model.ops[1].grid == [1, 1, 2, 2])
        for p in four.rankPlans {
            #expect(Double(p.activationBytes) <= 0.30 * Double(one), "rank \(p.rank): \(p.activationBytes) of \(one)")
            #expect(Double(p.arenaBytes) <= 0.30 * Double(try plan(.spatial, ranks: 1).0.rankPlans[0].arenaBytes))
        }
    }

    @Test func jsonAndSVGCarryEveryBuffer() throws {
        let (plan, g) = try plan(.hybrid, ranks: 2)
        let json = plan.json(graph: GraphTotals(imported: g, plan: plan), rank: 1, policy: "hybrid")
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["format"] as? String == "distconv-plan" && object?["version"] as? Int == 1)
        let ranks = object?["rank_plans"] as? [[String: Any]]
        #expect(ranks?.count == 1 && (ranks?[0]["buffers"] as? [Any])?.count == plan.rankPlans[1].buffers.count)
        let svg = plan.svg(rank: 1)
        #expect(svg.components(separatedBy: "<title>").count - 1 == plan.rankPlans[1].buffers.count)
    }
}
