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

    @OptionGroup var source: ModelSource

    @Option(help: "Number of ranks.")
    var ranks: Int = 1

    @Option(help: "Optimizer whose state to count: sgd, momentum, adam or adamw.")
    var optimizer: OptimizerKind = .momentum

    @Option(help: "text, json or svg (the arena of --rank, default rank 0).")
    var format: Format = .text

    @Option(help: "Also list every arena buffer of this rank (text), or only this rank (json).")
    var rank: Int?

    @Option(help: "Activation storage as train's --layout: blocked (padded channel blocks) or nchw.")
    var layout: LayoutChoice = .blocked

    func run() throws {
        // Every rank is planned in this process; past a few thousand that is not a report.
        guard (1...4096).contains(ranks) else { throw CLIError("--ranks is \(ranks); it must be from 1 to 4096") }
        try checkRank(rank, ranks: ranks)
        let loaded = try source.load(ranks: ranks)
        let partition = try Partition(model: loaded.model, ranks: ranks)
        var options = PlanOptions(optimizer: optimizer)
        options.kernels = layout.kernels
        let plan = try MemoryPlan(partition: partition, options: options)
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

extension OptimizerKind: ExpressibleByArgument {}
