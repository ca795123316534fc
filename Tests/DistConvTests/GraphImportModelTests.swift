import Testing

@testable import DistConv

@Suite struct GraphImportModelTests {
    func importTiny(_ text: String = GraphFixtures.tiny, _ options: GraphImportOptions = .init()) throws
        -> ImportedGraph
    {
        try ImportedGraph(graph: try ChainerGraph(text: text, source: "tiny.graph"), options: options)
    }

    @Test func tinyGraphBecomesAChainInGenerationOrder() throws {
        let g = try importTiny()
        #expect(g.model.ops.map(\.name) == ["data", "c", "relu1", "flatten1", "fc", "loss"])
        #expect(
            g.model.ops.map(\.kind.typeName) == [
                "data", "conv2d", "relu", "flatten", "linear", "softmax_cross_entropy",
            ])
        #expect(g.model.dataOp.outputShape == [2, 1, 4, 4])
        #expect(g.model.tensor("c.W").shape == [2, 1, 3, 3] && g.model.tensor("fc.W").shape == [3, 32, 1, 1])
        #expect(
            g.tensorNames == [
                "data.raw_output", "data.labels_output", "c.W", "c.b", "c.output", "relu1.output",
                "flatten1.output", "fc.W", "fc.b", "fc.output", "loss.output",
            ])
        #expect(g.opNames == ["flatten1", "c", "loss", "relu1", "fc", "relu1.grad"])
        #expect(g.tensorBytes == g.graph.totalBytes)
        #expect(g.dumpBatch == 2 && g.dumpImageSize == 4)
    }

    @Test func sizesThatDisagreeWithTheArchitectureNameTheTensorLine() {
        // 260 bytes of ReLU output cannot be the conv's [2, 2, 4, 4].
        #expect(throws: GraphError.self) { try importTiny(GraphFixtures.tiny(replacingLine: 7, with: "5 260 _")) }
        do {
            _ = try importTiny(GraphFixtures.tiny(replacingLine: 7, with: "5 260 _"))
        } catch let e as GraphError {
            #expect(e.line == 7 && e.problem.contains("relu1.output"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func nonFlatteningReshapeIsRefused() throws {
        do {
            _ = try importTiny(GraphFixtures.tiny(replacingLine: 18, with: "{\"shape\": [4, 16], \"rank\": 2}"))
            Issue.record("imported a reshape to [4, 16]")
        } catch let e as GraphError {
            #expect(e.line == 18 && e.problem.contains("not a flatten"))
        }
    }

    @Test func vggImportReproducesTheDumpsTotals() throws {
        let g = try GraphFixtures.vgg()
        #expect(g.graph.tensors.count == 86 && g.graph.ops.count == 92)
        #expect(g.graph.totalBytes == 4_598_445_348 && g.tensorBytes == 4_598_445_348)
        #expect(g.graph.parameterBytes == 574_668_960 && g.parameterBytes == 574_668_960)
        #expect(g.dumpBatch == 32 && g.dumpImageSize == 224)
        #expect(g.model.ops.count == 47)
        #expect(g.model.ops.filter { $0.kind.typeName == "conv2d" }.count == 16)
        #expect(g.model.tensor("conv1_1.W").shape == [64, 3, 3, 3])
        #expect(g.model.tensor("fc6.W").shape == [4096, 25088, 1, 1])
        #expect(g.model.tensor("loss.output").shape == [1, 1, 1, 1])
        guard case .pool(let pool)? = g.model.ops.first(where: { $0.name == "pool1" })?.kind else {
            Issue.record("no pool1"); return
        }
        #expect(pool.coverAll && pool.kernel == [2, 2])
        #expect(g.opNames.filter { $0.hasSuffix(".grad") }.count == 46)
    }

    @Test func vggAtAnotherBatchAndImageSizePartitions() throws {
        let g = try GraphFixtures.vgg(GraphImportOptions(batch: 2, imageSize: 64))
        #expect(g.model.dataOp.outputShape == [2, 3, 64, 64])
        #expect(g.model.tensor("fc6.W").shape == [4096, 2048, 1, 1])
        for policy in GridPolicy.allCases {
            let p = try Partition(model: try policy.apply(to: g.model, ranks: 2), ranks: 2)
            #expect(p.tensor("conv1_1.output").dim == [2, 64, 64, 64])
        }
    }
}
