import ArgumentParser
import DistConv
import Foundation

/// `distconv plan`: memory per rank for an imported graph (or a model file) on a grid.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan memory per rank: tensor shards, liveness and an offset-assigned arena.",
        discussion: """
            Imports a Chainer graph dump (or reads a model file), chooses grids,
            partitions it over --ranks ranks and reports per rank: parameters,
            gradients, optimizer state, activations, the lower bound (most bytes
            alive at once), the arena that activations and gradients are packed
            into, its ratio to the bound, and the peak.

            Examples:
              distconv plan --graph examples/vgg19.graph --ranks 1
              distconv plan --graph examples/vgg19.graph --ranks 4 --rank 1
              distconv plan --graph examples/vgg19.graph --ranks 8 --grid hybrid
              distconv plan --graph examples/vgg19.graph --ranks 4 --format json
              distconv plan --graph examples/vgg19.graph --ranks 4 --format svg > a.svg
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, svg }

    @Option(help: "Graph dump to import, e.g. examples/vgg19.graph.")
    var graph: String?

    @Option(help: "Model file (JSON) instead of a graph; its own grids unless --grid is given.")
    var model: String?

    @Option(help: "Number of ranks.")
    var ranks: Int = 1

    @Option(help: "Grid policy: batch, spatial or hybrid (default spatial for a graph).")
    var grid: GridPolicy?

    @Option(help: "Batch size (default: the graph's).")
    var batch: Int?

    @Option(help: "Image height and width (default: the graph's).")
    var imageSize: Int?

    @Option(help: "Optimizer whose state to count: sgd, momentum or adam.")
    var optimizer: OptimizerKind = .momentum

    @Option(help: "text, json or svg (the arena of --rank, default rank 0).")
    var format: Format = .text

    @Option(help: "Also list every arena buffer of this rank (text), or only this rank (json).")
    var rank: Int?

    func run() throws {
        // Every rank is planned in this process; past a few thousand that is not a report.
        guard (1...4096).contains(ranks) else { throw CLIError("--ranks is \(ranks); it must be from 1 to 4096") }
        if let rank, !(0..<ranks).contains(rank) {
            throw CLIError("--rank \(rank) is out of range for --ranks \(ranks) (0...\(ranks - 1))")
        }
        let loaded = try loadModel(
            graph: graph, model: model, batch: batch, imageSize: imageSize, grid: grid, ranks: ranks)
        let partition = try Partition(model: loaded.model, ranks: ranks)
        let plan = MemoryPlan(partition: partition, options: PlanOptions(optimizer: optimizer))
        let totals = loaded.imported.map { GraphTotals(imported: $0, plan: plan) }
        switch format {
        case .text:
            print(
                plan.text(graph: totals, rank: rank ?? (ranks == 1 ? 0 : nil), policy: loaded.policy?.rawValue),
                terminator: "")
        case .json: print(plan.json(graph: totals, rank: rank, policy: loaded.policy?.rawValue), terminator: "")
        case .svg: print(plan.svg(rank: rank ?? 0), terminator: "")
        }
    }
}

extension GridPolicy: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

/// A model from `--graph` (imported, grids from the policy, spatial by default) or
/// `--model` (its own grids unless a policy is given): exactly one of them.
func loadModel(
    graph: String?, model: String?, batch: Int?, imageSize: Int?, grid: GridPolicy?, ranks: Int
) throws -> (model: Model, imported: ImportedGraph?, policy: GridPolicy?) {
    switch (graph, model) {
    case (let path?, nil):
        if let batch, !(1...1 << 20).contains(batch) {
            throw CLIError("--batch is \(batch); it must be from 1 to \(1 << 20)")
        }
        if let imageSize, !(1...1 << 16).contains(imageSize) {
            throw CLIError("--image-size is \(imageSize); it must be from 1 to \(1 << 16)")
        }
        let imported = try ImportedGraph.load(
            path: path, options: GraphImportOptions(batch: batch, imageSize: imageSize))
        let policy = grid ?? .spatial
        return (try policy.apply(to: imported.model, ranks: ranks), imported, policy)
    case (nil, let path?):
        guard batch == nil, imageSize == nil else {
            throw CLIError("--batch and --image-size apply to --graph, not --model")
        }
        let m = try Model.load(path: path)
        return (try grid.map { try $0.apply(to: m, ranks: ranks) } ?? m, nil, grid)
    case (nil, nil): throw CLIError("give --graph FILE or --model FILE")
    case (_?, _?): throw CLIError("give --graph or --model, not both")
    }
}
