import DistConv
import Foundation
import Geometry
import Testing

/// Producers that write straight into their consumer's halo'd buffer (`ExecutionPlan.Alias`):
/// pure plan checks, no MPI. The runtime side (same numbers, same bits) is in TrainTests.
@Suite struct ExecutionPlanSharedStorageTests {
    func buffer(_ plan: ExecutionPlan, _ name: String) throws -> ExecutionPlan.Buffer {
        try #require(plan.buffer(named: name), "no buffer \(name) in \(plan.buffers.map(\.name))")
    }

    @Test(arguments: [0, 1]) func aRowSplitOfOneImageWritesIntoTheConsumersHalo(rank: Int) throws {
        // fashion-cnn at batch 1 on 2 ranks, 2 rows: pool1's 7x14 output block of 16
        // channels (one nChw16c block) is one contiguous run of conv2's 8x14 halo'd input.
        let plan = try ExecutionPlanTests.fashion(ranks: 2, rank: rank, batch: 1)
        let x = try buffer(plan, "pool1.output@conv2")
        let y = try buffer(plan, "pool1.output")
        let xIndex = try #require(plan.buffers.firstIndex(of: x))
        #expect(x.region == Rect(origin: [0, 0, rank == 0 ? 0 : 6, 0], size: [1, 16, 8, 14]))
        // Rank 0 owns the first 7 rows (its halo row is below), rank 1 the last 7 (halo above).
        #expect(y.alias == ExecutionPlan.Alias(of: xIndex, offset: rank == 0 ? 0 : 14 * 16))
        #expect(x.lifetime.contains(y.lifetime.lowerBound) && x.lifetime.contains(y.lifetime.upperBound))
        // The gradient over pool1's block is the same view of conv2's input gradient.
        let dx = try buffer(plan, "pool1.output.grad@conv2")
        let g = try buffer(plan, "pool1.output.grad")
        #expect(g.alias == ExecutionPlan.Alias(of: try #require(plan.buffers.firstIndex(of: dx)), offset: y.alias?.offset ?? -1))
        #expect(dx.lifetime.contains(g.lifetime.upperBound))
        // No copy back out of conv2's input for pool1's backward.
        #expect(plan.buffer(named: "pool1.output@pool1.backward") == nil)
        // An alias asks the arena for nothing.
        let requests = plan.arenaRequests(elementSize: 4)
        #expect(requests[try #require(plan.buffers.firstIndex(of: y))].size == 0)
    }

    @Test func aReluOn2x2WritesIntoTheConsumersHaloThroughAStridedView() throws {
        // conv -> relu -> conv on 1x16x64x64 over 2x2: rank 0 owns rows and columns 0..<32
        // and reads one more of each; relu1's block is 32 runs of 32 pixels there.
        let json = #"{"format": "distconv-model", "version": 1, "name": "s", "ops": ["#
            + #"{"name": "data", "type": "data", "shape": [1, 16, 64, 64], "classes": 10}, "#
            + #"{"name": "conv1", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]}, "#
            + #"{"name": "relu1", "type": "relu"}, "#
            + #"{"name": "conv2", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]}, "#
            + #"{"name": "pool", "type": "avg_pool", "kernel": [16, 16], "stride": [16, 16]}, "#
            + #"{"name": "fc", "type": "linear", "out_features": 10}, "#
            + #"{"name": "loss", "type": "softmax_cross_entropy"}]}"#
        let file = try ModelFile(json: Data(json.utf8), source: "s")
        let model = try GridPolicy.spatial.apply(to: Model(file: file, source: "s"), ranks: 4)
        let plan = try ExecutionPlan(partition: Partition(model: model, ranks: 4), rank: 0, kernels: .onednn(.blocked(16)))
        let x = try buffer(plan, "relu1.output@conv2")
        #expect(x.region == Rect(origin: [0, 0, 0, 0], size: [1, 16, 33, 33]))
        let y = try buffer(plan, "relu1.output")
        let runs = StridedRuns(length: 32 * 16, counts: [32], strides: [33 * 16])
        #expect(y.alias == ExecutionPlan.Alias(of: try #require(plan.buffers.firstIndex(of: x)), offset: 0, runs: runs))
        let g = try buffer(plan, "relu1.output.grad")
        #expect(g.alias?.runs == runs)
        // conv1's output feeds relu1 in place; the data op loads conv1's input: neither is a view.
        #expect(try buffer(plan, "conv1.output").alias == nil)
    }

    @Test func aBatchOrAGridOfColumnsKeepsItsOwnBuffers() throws {
        // Batch 16 over 2 rows: the block's rows are strided (one run per image). 2x2: per row.
        for (ranks, batch) in [(2, 16), (4, 1)] {
            let plan = try ExecutionPlanTests.fashion(ranks: ranks, rank: 1, batch: batch)
            #expect(plan.buffers.allSatisfy { $0.alias == nil }, "\(ranks) ranks, batch \(batch)")
        }
    }
}
