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

    @Test func aSplitThatCannotFitIsAnErrorNamingTheOp() throws {
        let small = try GraphFixtures.vgg(GraphImportOptions(batch: 2, imageSize: 64)).model
        #expect(throws: ModelError.self) { try GridPolicy.spatial.apply(to: small, ranks: 4) }
        do {
            _ = try GridPolicy.spatial.apply(to: small, ranks: 4)
        } catch let e as ModelError {
            #expect(e.op == "flatten1" && e.field == "grid")
        }
    }
}
