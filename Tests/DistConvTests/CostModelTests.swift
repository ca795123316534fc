@testable import DistConv
import Foundation
import Testing

/// The cost model on cases worked out by hand: a convolution's FLOPs at a known rate, a
/// halo of known rows between two ranks, allreduces of known size; and the grid search
/// against a brute force and a memory limit.
@Suite struct CostModelTests {
    /// A machine of constant rates (work per second, per kind; kinds not listed take no
    /// time) and given links.
    struct TableRates: MachineRates {
        var rates: [KernelWork.Kind: Double] = [:]
        var copy = LinkCost(alpha: 1e-6, beta: 1e-9)
        var intraNode = LinkCost(alpha: 2e-6, beta: 1e-9)
        var interNode = LinkCost(alpha: 5e-6, beta: 1e-9)
        var ranksPerNode = 2
        var synchronisation = 0.0

        func seconds(_ work: KernelWork) -> Double { rates[work.kind].map { work.work / $0 } ?? 0 }
    }

    /// data [n, 4, 8, 8] -> conv1 (4 -> c, k x k, padding k/2) -> conv2 (c -> c, the same)
    /// -> 8x8 average pool -> fc 10 -> loss, every op on `grid` where its tensor allows
    /// (pool, fc and loss on one rank, replicated).
    static func model(batch: Int = 1, channels: Int = 4, kernel: Int = 3, grid: [Int]) throws -> Model {
        let p = kernel / 2
        let json = """
            {"format": "distconv-model", "version": 1, "name": "halo", "ops": [
              {"name": "data", "type": "data", "shape": [\(batch), 4, 8, 8], "classes": 10},
              {"name": "conv1", "type": "conv2d", "out_channels": \(channels), "kernel": [\(kernel), \(kernel)], "padding": [\(p), \(p)]},
              {"name": "conv2", "type": "conv2d", "out_channels": \(channels), "kernel": [\(kernel), \(kernel)], "padding": [\(p), \(p)]},
              {"name": "pool", "type": "avg_pool", "kernel": [8, 8], "stride": [8, 8]},
              {"name": "fc", "type": "linear", "out_features": 10},
              {"name": "loss", "type": "softmax_cross_entropy"}]}
            """
        var m = try Model(file: ModelFile(json: Data(json.utf8), source: "halo"), source: "halo")
        for i in m.ops.indices {
            m.ops[i].grid = i <= 2 ? grid : (m.ops[i].kind.typeName == "data" ? grid : [grid[0], 1, 1, 1])
        }
        return m
    }

    func op(_ e: StepEstimate, _ name: String) throws -> StepEstimate.OpEstimate {
        try #require(e.ops.first { $0.op == name }, "no op \(name) in \(e.ops.map(\.op))")
    }

    @Test func aSingleConvolutionTakesItsFLOPsAtTheKernelsRate() throws {
        // conv1 on one rank: [2, 4, 8, 8] -> [2, 8, 8, 8], 3x3: 2 * (2*8*8*8) * (4*3*3)
        // = 73,728 FLOPs forward and the same for the weights' gradient; no input
        // gradient (its input is the data).
        let m = try Self.model(batch: 2, channels: 8, grid: [1, 1, 1, 1])
        var rates = TableRates()
        rates.rates = [.convolutionForward: 1e9, .convolutionBackwardWeights: 2e9, .convolutionBackwardData: 3e9]
        let cost = StepCostModel(rates: rates, kernels: .reference, overlap: false)
        let e = try cost.estimate(Partition(model: m, ranks: 1))
        let conv1 = try op(e, "conv1")
        #expect(abs(conv1.compute - (73_728 / 1e9 + 73_728 / 2e9)) < 1e-15)
        // conv2 computes its input gradient too: 8 -> 8 channels, 2*(2*8*8*8)*(8*9) FLOPs each.
        let flops = 2.0 * 1024 * 72
        #expect(abs(try op(e, "conv2").compute - (flops / 1e9 + flops / 2e9 + flops / 3e9)) < 1e-15)
        #expect(conv1.halo == 0 && conv1.allreduce == 0 && e.peakBytesPerRank > 0)
    }

    /// Two ranks split H in halves; conv2 reads `kernel / 2` rows of conv1's output from
    /// the other rank: 4 channels x 8 columns x 4 bytes = 128 bytes per row.
    @Test(arguments: [(3, 1), (5, 2)])
    func aHaloOfKnownRowsCostsItsMessages(kernel: Int, rows: Int) throws {
        let m = try Self.model(kernel: kernel, grid: [1, 1, 2, 1])
        let partition = try Partition(model: m, ranks: 2)
        let rates = TableRates()
        let cost = StepCostModel(rates: rates, kernels: .reference, overlap: false)
        let plan = try ExecutionPlan(partition: partition, rank: 0, kernels: .reference)
        let e = cost.estimate(plan, partition: partition)
        let bytes = 128 * rows
        // Forward (copy) and backward (the reverse halo, accumulate) each: the message
        // packed and unpacked, sent one way and received the other at once, and the
        // rank's own 4 rows (512 bytes) copied in.
        let one = 2 * rates.copy.seconds(bytes: bytes) + rates.intraNode.seconds(bytes: bytes) + rates.copy.seconds(bytes: 512)
        let conv2 = try op(e, "conv2")
        #expect(abs(conv2.halo - 2 * one) < 1e-15, "halo \(conv2.halo), expected \(2 * one) for \(rows) rows")
        // The same messages on another node cost the inter-node link.
        var apart = rates
        apart.ranksPerNode = 1
        let far = StepCostModel(rates: apart, kernels: .reference, overlap: false).estimate(plan, partition: partition)
        let expected = 2 * (one - rates.intraNode.seconds(bytes: bytes) + apart.interNode.seconds(bytes: bytes))
        #expect(abs(try op(far, "conv2").halo - expected) < 1e-15)
        // Each of the two exchanges is a meeting point: the wait for the peer once more.
        var waiting = rates
        waiting.synchronisation = 3e-5
        let met = StepCostModel(rates: waiting, kernels: .reference, overlap: false).estimate(plan, partition: partition)
        #expect(abs(try op(met, "conv2").halo - (2 * one + 2 * 3e-5)) < 1e-15)
        // conv1 reads the data with no messages (it is loaded with its halo): no meeting.
        #expect(try op(met, "conv1").halo == 0)
    }

    @Test func allreducesTakeTheCheapestAlgorithm() {
        let cost = StepCostModel(rates: TableRates())
        // 4 ranks on two nodes: the inter-node link (5 us, 1 ns per byte).
        // 1 MiB: Rabenseifner's 4 latencies + 1.5 x the bytes beats the ring's 6 latencies.
        #expect(abs(cost.allreduceSeconds(bytes: 1 << 20, ranks: 4) - (4 * 5e-6 + 1.5 * 1_048_576e-9)) < 1e-15)
        // 1 KiB: recursive doubling, two rounds of the whole message.
        #expect(abs(cost.allreduceSeconds(bytes: 1024, ranks: 4) - 2 * (5e-6 + 1024e-9)) < 1e-15)
        #expect(cost.allreduceSeconds(bytes: 1 << 20, ranks: 1) == 0)
    }

    @Test func aBatchSplitAllreducesEveryGradientOnce() throws {
        // Every parameter is replicated on a batch split: conv1 4*4*9 + 4, conv2 the same,
        // fc 10*4 + 10 = 346 Floats, 1,384 bytes in one bucket; 2 ranks on one node:
        // recursive doubling, one round.
        let m = try Self.model(batch: 2, grid: [2, 1, 1, 1])
        let e = try StepCostModel(rates: TableRates(), kernels: .reference).estimate(Partition(model: m, ranks: 2))
        #expect(abs(e.allreduce - (2e-6 + 1384e-9)) < 1e-15, "allreduce \(e.allreduce)")
        #expect(e.halo == 0)
        // The end of backward is one meeting point a step, however many buckets.
        var waiting = TableRates()
        waiting.synchronisation = 3e-5
        let met = try StepCostModel(rates: waiting, kernels: .reference).estimate(Partition(model: m, ranks: 2))
        #expect(abs(met.allreduce - (2e-6 + 1384e-9 + 3e-5)) < 1e-15, "allreduce \(met.allreduce)")
    }

    func searchModel() throws -> Model {
        let json = """
            {"format": "distconv-model", "version": 1, "name": "tiny", "ops": [
              {"name": "data", "type": "data", "shape": [4, 4, 16, 16], "classes": 10},
              {"name": "conv1", "type": "conv2d", "out_channels": 8, "kernel": [3, 3], "padding": [1, 1]},
              {"name": "relu1", "type": "relu"},
              {"name": "conv2", "type": "conv2d", "out_channels": 8, "kernel": [3, 3], "padding": [1, 1]}]}
            """
        return try Model(file: ModelFile(json: Data(json.utf8), source: "tiny"), source: "tiny")
    }

    static let searchRates = TableRates(
        rates: [.convolutionForward: 2e9, .convolutionBackwardData: 2e9, .convolutionBackwardWeights: 2e9,
                .elementwiseForward: 1e9, .elementwiseBackward: 1e9, .dataLoad: 1e9, .optimizerUpdate: 1e9],
        copy: LinkCost(alpha: 1e-6, beta: 1e-9), intraNode: LinkCost(alpha: 2e-5, beta: 1e-9),
        interNode: LinkCost(alpha: 1e-4, beta: 1e-8), ranksPerNode: 2)

    @Test func theDynamicProgramFindsTheBruteForceMinimum() throws {
        let model = try searchModel()
        let search = GridSearch(cost: StepCostModel(rates: Self.searchRates, kernels: .reference))
        let candidates = try GridSearch.candidates(model, ranks: 4)
        #expect(candidates[1].count == 6)  // [1,1,4,1] [1,1,2,2] [1,1,1,4] [2,1,2,1] [2,1,1,2] [4,1,1,1]
        let tables = search.tables(model, ranks: 4, candidates: candidates)
        let chosen = try #require(search.cheapest(model, tables))
        var least = Double.infinity
        for a in candidates[1] { for b in candidates[2] { for c in candidates[3] {
            least = min(least, search.objective(model, tables, [candidates[0][0], a, b, c]))
        } } }
        #expect(least.isFinite)
        #expect(abs(search.objective(model, tables, chosen) - least) <= 1e-12 * least)
        // The search never predicts worse than a fixed policy.
        let result = try search.search(model, ranks: 4)
        #expect(result.policies.count == 3)
        for p in result.policies { #expect(result.best.estimate.seconds <= p.estimate.seconds) }
    }

    /// Searched grids that differ from every fixed policy are chosen only when they beat
    /// the best fixed one by `minimumGain`; otherwise that policy is kept, and the
    /// searched grids are returned as declined.
    @Test func mixedGridsMustGainEnoughToBeChosen() throws {
        let model = try searchModel()
        func choice(_ name: String, _ ms: Double, _ grids: [[Int]]) -> GridSearch.Choice {
            var m = model
            for i in m.ops.indices { m.ops[i].grid = grids[i] }
            let e = StepEstimate(ranks: 4, ops: [.init(op: "conv1", grid: grids[1], compute: ms / 1e3)], peakBytesPerRank: 1)
            return GridSearch.Choice(name: name, model: m, estimate: e)
        }
        let b = [4, 1, 1, 1], s = [1, 1, 2, 2]
        let policies = [choice("batch", 10, [s, b, b, b]), choice("spatial", 12, [s, s, s, s])]
        let mixed = [s, s, b, b]
        // 3% ahead of batch: batch is kept, the searched grids declined.
        let (kept, declined) = GridSearch.keepingFixed(choice("auto", 9.7, mixed), policies: policies, minimumGain: 0.05)
        #expect(kept.name == "batch" && declined?.name == "searched" && abs((declined?.estimate.seconds ?? 0) - 9.7e-3) < 1e-15)
        // 6% ahead: chosen.
        let (chosen, none) = GridSearch.keepingFixed(choice("auto", 9.4, mixed), policies: policies, minimumGain: 0.05)
        #expect(chosen.model.ops.map(\.grid) == mixed && none == nil)
        // The cheapest being a fixed policy's grids: nothing to decline, whatever the gain.
        let (same, nothing) = GridSearch.keepingFixed(choice("auto", 10, [s, b, b, b]), policies: policies, minimumGain: 0.05)
        #expect(same.model.ops.map(\.grid) == [s, b, b, b] && nothing == nil)
        // The search itself returns the cheapest fixed policy or a gain of at least 5%.
        let search = GridSearch(cost: StepCostModel(rates: Self.searchRates, kernels: .reference))
        let result = try search.search(model, ranks: 4)
        let fixed = try #require(result.policies.map(\.estimate.seconds).min())
        #expect(result.best.estimate.seconds == fixed || result.best.estimate.seconds <= 0.95 * fixed)
    }

    @Test func theSearchKeepsToTheMemoryLimit() throws {
        let model = try searchModel()
        let free = try GridSearch(cost: StepCostModel(rates: Self.searchRates, kernels: .reference)).search(model, ranks: 4)
        let peaks = (free.policies + [free.best]).map(\.estimate.peakBytesPerRank)
        let limit = try #require(peaks.min())
        let bound = try GridSearch(cost: StepCostModel(rates: Self.searchRates, kernels: .reference), memoryLimit: limit)
            .search(model, ranks: 4)
        #expect(bound.best.estimate.peakBytesPerRank <= limit)
        #expect(throws: GridSearch.SearchError.noFit(limit: 1000, smallestPeak: limit)) {
            try GridSearch(cost: StepCostModel(rates: Self.searchRates, kernels: .reference), memoryLimit: 1000)
                .search(model, ranks: 4)
        }
    }

    @Test func projectionSpeedUpsAreAgainstTheFastestFirstRow() {
        func e(_ ms: Double, peak: Int = 1 << 20) -> StepEstimate {
            StepEstimate(ranks: 1, ops: [.init(op: "conv", grid: [1, 1, 1, 1], compute: ms / 1e3)], peakBytesPerRank: peak)
        }
        var one = ProjectionTable.Row(ranks: 2)
        one.estimates = ["batch": e(120), "spatial": e(100), "hybrid": e(110), "auto": e(100)]
        var four = ProjectionTable.Row(ranks: 8)
        four.estimates = ["batch": e(40), "spatial": e(25), "hybrid": e(30), "auto": e(20, peak: 3 << 20)]
        let t = ProjectionTable(model: "m", profile: "p", links: "l", memoryLimit: 2 << 20, rows: [one, four])
        // The baseline is 2 ranks at 100 ms: auto at 8 ranks is 5x faster on 4x the ranks.
        #expect(abs(t.speedUp(four.estimates["auto"]!) - 5) < 1e-12)
        #expect(abs(t.efficiency(four.estimates["auto"]!, ranks: 8) - 1.25) < 1e-12)
        #expect(abs(t.efficiency(one.estimates["batch"]!, ranks: 2) - 100.0 / 120) < 1e-12)
        #expect(t.text.contains("3 MiB *"))  // over the 2 MiB limit, marked
        #expect(t.svg.components(separatedBy: "<polyline").count == 9)  // 4 policies x 2 panels
    }
}
