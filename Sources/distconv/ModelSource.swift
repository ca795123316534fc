import ArgumentParser
import DistConv

/// Where a command's model comes from: a model file (`--model`, its own grids unless
/// `--grid` is given) or a graph dump (`--graph`, imported, re-sized by `--batch` and
/// `--image-size`, grids from `--grid`, spatial by default). Exactly one of the two.
struct ModelSource: ParsableArguments {
    @Option(help: "Model file (JSON), e.g. examples/seed-tiled.json.")
    var model: String?

    @Option(help: "Graph dump to import instead of a model file, e.g. examples/vgg19.graph.")
    var graph: String?

    @Option(help: "With --graph: batch size (default: the graph's).")
    var batch: Int?

    @Option(help: "With --graph: image height and width (default: the graph's).")
    var imageSize: Int?

    @Option(help: "Grid policy batch, spatial or hybrid (default: spatial for --graph, the file's grids for --model).")
    var grid: GridPolicy?

    /// The model with its grids for `ranks` ranks, the imported graph (for its totals),
    /// and the grid policy applied, if any.
    func load(ranks: Int) throws -> (model: Model, imported: ImportedGraph?, policy: GridPolicy?) {
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
        case (nil, nil): throw CLIError("give --model FILE or --graph FILE")
        case (_?, _?): throw CLIError("give --model or --graph, not both")
        }
    }
}

extension GridPolicy: ExpressibleByArgument {}

/// Checks `--rank` against `--ranks`.
func checkRank(_ rank: Int?, ranks: Int) throws {
    if let rank, !(0..<ranks).contains(rank) {
        throw CLIError("--rank \(rank) is out of range for --ranks \(ranks) (0...\(ranks - 1))")
    }
}
