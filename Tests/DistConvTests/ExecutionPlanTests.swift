import DistConv
import Foundation
import Geometry
import Testing

/// The runtime's execution plan, pure (no MPI): which buffers a rank allocates, how big,
/// and when each is alive. Time: the data op at 0, forward op i at i, its backward at
/// 2F - 1 - i (F ops), the optimizer at 2F.
@Suite struct ExecutionPlanTests {
    static func fashion(ranks: Int, rank: Int, batch: Int = 64,
                        kernels: ExecutionPlan.Kernels = .onednn(.blocked(16))) throws -> ExecutionPlan {
        let file = try ModelFile(json: Data(ModelFile.defaultModelJSON.utf8), source: "fashion-cnn")
        // As train chooses grids: the file's where they fit, else the spatial policy's.
        let model = try Model(file: file.resized(batch: batch), source: "fashion-cnn")
        let partition = try (file.gridsSpan(ranks: ranks) ? try? Partition(model: model, ranks: ranks) : nil)
            ?? Partition(model: GridPolicy.spatial.apply(to: model, ranks: ranks), ranks: ranks)
        return try ExecutionPlan(partition: partition, rank: rank, kernels: kernels)
    }

    func buffer(_ plan: ExecutionPlan, _ name: String) throws -> ExecutionPlan.Buffer {
        try #require(plan.buffer(named: name), "no buffer \(name) in \(plan.buffers.map(\.name))")
    }

    @Test func lifetimesFollowTheirReaders() throws {
        // fashion-cnn: data 0, conv1 1, relu1 2, pool1 3, conv2 4, relu2 5, pool2 6, fc 7,
        // loss 8, evaluate 9; F = 10, so op i's backward is at 19 - i.
        let plan = try Self.fashion(ranks: 4, rank: 1)
        // The loaded input: from the data op until conv1's backward reads it for dW.
        #expect(try buffer(plan, "data.raw_output@conv1").lifetime == 0...18)
        // conv1's output is read by relu1 forward only (ReLU's backward reads its output).
        #expect(try buffer(plan, "conv1.output").lifetime == 1...2)
        // relu1's output: read by pool1 (with its halo) and by relu1's own backward.
        #expect(try buffer(plan, "relu1.output").lifetime == 2...17)
        // pool2's output (blocked) is reordered to NCHW for fc at once; fc reads the copy
        // in place (the same 2x2 blocks) until its backward.
        #expect(try buffer(plan, "pool2.output").lifetime == 6...7)
        #expect(try buffer(plan, "pool2.output@fc.nchw").lifetime == 7...12)
        // fc writes partial sums; the loss reads them added up, in a buffer of its own.
        #expect(try buffer(plan, "fc.output").lifetime == 7...8)
        #expect(try buffer(plan, "fc.output@loss").lifetime == 8...8)
        // Gradients live from their first writer to their reader: relu2's output gradient
        // from pool2's backward (13) to relu2's (14).
        #expect(try buffer(plan, "relu2.output.grad").lifetime == 13...14)
        // Rank 1 owns rows 14..<28, columns 0..<14 of the 28x28 maps. pool1's 2x2 windows
        // read exactly that block: no second buffer. conv2 (3x3, pad 1) on pool1's 14x14
        // output reads its 7x7 block plus a one-wide halo above and to the right: 8x8.
        #expect(plan.buffer(named: "relu1.output@pool1") == nil)
        let halo = try buffer(plan, "pool1.output@conv2")
        #expect(halo.region == Rect(origin: [0, 0, 6, 0], size: [64, 16, 8, 8]))
        #expect(try buffer(plan, "pool1.output").region == Rect(origin: [0, 0, 7, 0], size: [64, 16, 7, 7]))
        // Its gradient comes back through the reverse halo into pool1's block.
        #expect(try buffer(plan, "pool1.output.grad@conv2").count == 64 * 16 * 8 * 8)
    }

    @Test func activationsStayBlockedFromTheFirstConvolutionToTheClassifier() throws {
        // fashion-cnn on 4 ranks (2x2) with 16-channel blocks: conv1 reads the data in NCHW
        // and writes nChw16c; relu and pooling keep it; fc (sgemm) takes NCHW, so pool2's
        // block is reordered once, and its gradient reordered back.
        let file = try ModelFile(json: Data(ModelFile.defaultModelJSON.utf8), source: "fashion-cnn")
        let partition = try Partition(model: Model(file: file, source: "fashion-cnn"), ranks: 4)
        let plan = try ExecutionPlan(partition: partition, rank: 1, kernels: .onednn(.blocked(16)))
        #expect(try buffer(plan, "data.raw_output@conv1").layout == .nchw)
        for name in ["conv1.output", "relu1.output", "pool1.output", "pool1.output@conv2", "conv2.output",
                     "relu2.output", "pool2.output", "pool2.output.grad", "pool1.output.grad@conv2"] {
            #expect(try buffer(plan, name).layout == .blocked(16), "\(name)")
        }
        #expect(try buffer(plan, "pool2.output@fc.nchw").layout == .nchw)
        #expect(try buffer(plan, "pool2.output.grad@fc.nchw").layout == .nchw)
        // conv1 has 16 channels: whole blocks, no padding. A 1-channel tensor would be
        // 16 times larger blocked; the data stays NCHW.
        #expect(try buffer(plan, "conv1.output").count == 64 * 16 * 14 * 14)
        // The reference kernels (Double) keep everything NCHW.
        let reference = try ExecutionPlan(partition: partition, rank: 1, kernels: .reference)
        #expect(reference.buffers.allSatisfy { $0.layout == .nchw })
        #expect(reference.buffer(named: "pool2.output@fc.nchw") == nil)
    }

    @Test func aChannelSplitThatIsNotBlockAlignedStaysNCHW() throws {
        // 24 channels over 2 ranks: 12 + 12, not whole 16-channel blocks.
        let json = """
            {"format": "distconv-model", "version": 1, "name": "split", "ops": [
              {"name": "data", "type": "data", "shape": [2, 3, 8, 8], "classes": 4, "grid": [1, 1, 1, 1]},
              {"name": "conv1", "type": "conv2d", "out_channels": 24, "kernel": [3, 3], "padding": [1, 1], "grid": [1, 2, 1, 1]},
              {"name": "conv2", "type": "conv2d", "out_channels": 32, "kernel": [3, 3], "padding": [1, 1], "grid": [1, 2, 1, 1]},
              {"name": "fc", "type": "linear", "out_features": 4, "grid": [1, 1, 1, 1]},
              {"name": "loss", "type": "softmax_cross_entropy", "grid": [1, 1, 1, 1]}]}
            """
        let file = try ModelFile(json: Data(json.utf8), source: "split")
        let partition = try Partition(model: Model(file: file, source: "split"), ranks: 2)
        let plan = try ExecutionPlan(partition: partition, rank: 1, kernels: .onednn(.blocked(16)))
        #expect(try buffer(plan, "conv1.output").layout == .nchw)
        // conv2's 32 channels split 16 + 16: whole blocks.
        #expect(try buffer(plan, "conv2.output").layout == .blocked(16))
    }

    @Test func aLayoutChangeGetsTwoBuffersNotTheirBoundingBox() throws {
        // VGG-19 on 4 ranks: pool5 writes 2x2 spatial blocks, flatten reads batch quarters.
        let g = try GraphFixtures.vgg(GraphImportOptions(batch: 8, imageSize: 64))
        let model = try GridPolicy.spatial.apply(to: g.model, ranks: 4)
        let partition = try Partition(model: model, ranks: 4)
        let plan = try ExecutionPlan(partition: partition, rank: 0)
        let pool5 = partition.op("pool5")
        let written = try buffer(plan, "pool5.output")
        let read = try buffer(plan, "pool5.output@flatten1")
        #expect(written.count == pool5.distResult[0].volume)          // [8, 512, 1, 1] of [8, 512, 2, 2]
        #expect(read.count == partition.op("flatten1").distInput?[0].volume)  // [2, 512, 2, 2]
        let whole = Rect(shape: partition.tensor("pool5.output").dim).volume
        #expect(written.count + read.count < whole, "two buffers \(written.count) + \(read.count), whole \(whole)")
    }

    @Test func replicasAllocateWhatTheirPrimaryDoes() throws {
        // Batch 2 on 4 ranks: the loss runs on 2 ranks, replicated on 2 and 3.
        let p0 = try Self.fashion(ranks: 4, rank: 0, batch: 2), p2 = try Self.fashion(ranks: 4, rank: 2, batch: 2)
        #expect(p0.buffer(named: "loss.probability")?.count == p2.buffer(named: "loss.probability")?.count)
        #expect(p0.buffer(named: "loss.probability")?.count == 10)
    }

    @Test func everyBufferIsAliveWhenItsStepRuns() throws {
        // Each op's buffers, as the network binds them, are alive at the op's steps.
        for ranks in [1, 2, 3, 4] {
            for rank in 0..<ranks {
              for kernels in [ExecutionPlan.Kernels.onednn(.blocked(16)), .reference] {
                let plan = try Self.fashion(ranks: ranks, rank: rank, kernels: kernels)
                for (name, uses) in plan.uses() {
                    let b = try buffer(plan, name)
                    for step in uses {
                        #expect(b.lifetime.contains(step), "\(ranks) ranks, rank \(rank), \(kernels): \(name) used at \(step), alive \(b.lifetime)")
                    }
                }
              }
            }
        }
    }
}
