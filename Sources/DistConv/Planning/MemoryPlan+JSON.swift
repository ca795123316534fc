import Foundation

extension MemoryPlan {
    /// The plan as JSON (`"format": "distconv-plan"`, `"version": 1`): settings, the
    /// graph's totals, the steps, and per rank (only `rank` when given) the totals and
    /// every arena buffer with `offset`, `bytes`, `first_step`, `last_step` and `region`.
    public func json(graph: GraphTotals? = nil, rank: Int? = nil, policy: String? = nil) -> String {
        let selected = rank.map { [rankPlans[$0]] } ?? rankPlans
        let document = PlanDocument(
            format: "distconv-plan", version: 1, model: partition.model.name, ranks: ranks, gridPolicy: policy,
            optimizer: options.optimizer.rawValue, alignment: options.alignment, strategy: options.strategy.rawValue,
            graph: graph.map {
                .init(
                    source: $0.source, tensors: $0.tensors, ops: $0.ops, totalBytes: $0.totalBytes,
                    parameterBytes: $0.parameterBytes, modelBytes: $0.modelBytes)
            },
            steps: steps.map { .init(name: $0.name, phase: "\($0.phase)") },
            rankPlans: selected.map { p in
                .init(
                    rank: p.rank, parameterBytes: p.parameterBytes, parameterGradientBytes: p.parameterGradientBytes,
                    optimizerStateBytes: p.optimizerStateBytes, activationBytes: p.activationBytes,
                    activationGradientBytes: p.activationGradientBytes, lowerBound: p.lowerBound,
                    arenaBytes: p.arenaBytes, ratio: (p.ratio * 10000).rounded() / 10000, peakBytes: p.peakBytes,
                    strategy: p.strategy.rawValue, graphTensorBytes: graph?.bytesPerRank[p.rank],
                    buffers: p.buffers.map {
                        .init(
                            tensor: $0.tensor, role: "\($0.shard.role)", bytes: $0.bytes, offset: $0.offset,
                            firstStep: $0.lifetime.lowerBound, lastStep: $0.lifetime.upperBound,
                            region: .init(origin: $0.shard.region.origin, size: $0.shard.region.size))
                    })
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(document) else { preconditionFailure("plan JSON does not encode") }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The JSON shape of a plan (keys in snake case).
struct PlanDocument: Encodable {
    struct Graph: Encodable {
        var source: String
        var tensors, ops, totalBytes, parameterBytes, modelBytes: Int
    }
    struct Step: Encodable {
        var name, phase: String
    }
    struct Region: Encodable {
        var origin, size: [Int]
    }
    struct Buffer: Encodable {
        var tensor, role: String
        var bytes, offset, firstStep, lastStep: Int
        var region: Region
    }
    struct RankEntry: Encodable {
        var rank, parameterBytes, parameterGradientBytes, optimizerStateBytes, activationBytes: Int
        var activationGradientBytes, lowerBound, arenaBytes: Int
        var ratio: Double
        var peakBytes: Int
        var strategy: String
        var graphTensorBytes: Int?
        var buffers: [Buffer]
    }
    var format: String
    var version: Int
    var model: String
    var ranks: Int
    var gridPolicy: String?
    var optimizer: String
    var alignment: Int
    var strategy: String
    var graph: Graph?
    var steps: [Step]
    var rankPlans: [RankEntry]
}
