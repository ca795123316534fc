import DistConv
import Testing

@Suite struct PlanningGridPolicyTests {
    func grids(_ policy: GridPolicy, ranks: Int) throws -> [String: [Int]] {
        let model = try policy.apply(to: try GraphFixtures.vgg().model, ranks: ranks)
        return Dictionary(uniqueKeysWithValues: model.ops.map { ($0.name, $0.grid) })
    }

    @Test func spatialIsAsSquareAsPossibleAndBatchOnlyOpsSplitTheBatch() throws {
        let four = try grids(.spatial, ranks: 4)
        #expect(four["conv1_1"] == [1, 1, 2, 2] && four["pool5"] == [1, 1, 2, 2])
        #expect(four["flatten1"] == [4, 1, 1, 1] && four["fc6"] == [4, 1, 1, 1] && four["loss"] == [4, 1, 1, 1])
        #expect(try grids(.spatial, ranks: 8)["conv3_1"] == [1, 1, 4, 2])
        #expect(try grids(.spatial, ranks: 2)["conv3_1"] == [1, 1, 2, 1])
    }

    @Test func batchAndHybrid() throws {
        #expect(Set(try grids(.batch, ranks: 8).values) == [[8, 1, 1, 1]])
        #expect(try grids(.hybrid, ranks: 4)["conv1_1"] == [2, 1, 2, 1])
        #expect(try grids(.hybrid, ranks: 8)["conv1_1"] == [2, 1, 2, 2])
        #expect(try grids(.hybrid, ranks: 8)["loss"] == [8, 1, 1, 1])
        #expect(GridPolicy.hybrid.batchParts(ranks: 16) == 4)
    }

    @Test func aBatchTooSmallForTheRanksGetsAReplicatedGrid() throws {
        // Batch 2 on 4 ranks: flatten and the classifier split only the batch, so they get
        // a grid over 2 ranks, replicated on the other two; spatial ops still use all 4.
        let small = try GraphFixtures.vgg(GraphImportOptions(batch: 2, imageSize: 64)).model
        let m = try GridPolicy.spatial.apply(to: small, ranks: 4)
        let flatten = try #require(m.ops.first { $0.name == "flatten1" })
        #expect(flatten.grid == [2, 1, 1, 1])
        #expect(flatten.gridRanks == 2 && flatten.isPrimary(rank: 1) && !flatten.isPrimary(rank: 2))
        #expect(m.ops[1].grid == [1, 1, 2, 2])
        let p = try Partition(model: m, ranks: 4)
        // Rank 2 computes the same block as rank 0.
        let f = p.op("flatten1")
        #expect(f.distResult[2] == f.distResult[0] && f.distResult[1] != f.distResult[0])
    }
}
