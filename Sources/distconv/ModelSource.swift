import ArgumentParser
import DistConv
import Foundation

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

    @Option(help: "Grid policy batch, spatial, hybrid or auto (searched with the cost model; default: spatial for --graph, the file's grids for --model).")
    var grid: GridChoice?

    /// The model with its grids for `ranks` ranks, the imported graph (for its totals),
    /// and the grid policy applied, if any. With `deriveGrids`, a model file whose grids
    /// are written for another rank count (or not at all) gets the spatial policy's (the
    /// rule `train` states); `classes` re-sizes the classifier. `--grid auto` takes its
    /// grids from `search` (the cost model's grid search), which the command provides.
    func load(ranks: Int, deriveGrids: Bool = false, classes: Int? = nil,
              search: ((Model) throws -> Model)? = nil) throws
        -> (model: Model, imported: ImportedGraph?, policy: String?)
    {
        if let batch, !(1...1 << 20).contains(batch) {
            throw CLIError("--batch is \(batch); it must be from 1 to \(1 << 20)")
        }
        if let imageSize, !(1...1 << 16).contains(imageSize) {
            throw CLIError("--image-size is \(imageSize); it must be from 1 to \(1 << 16)")
        }
        if let classes, !(2...1 << 20).contains(classes) {
            throw CLIError("--classes is \(classes); it must be from 2 to \(1 << 20)")
        }
        switch (graph, model) {
        case (let path?, nil):
            var imported = try ImportedGraph.load(
                path: path, options: GraphImportOptions(batch: batch, imageSize: imageSize))
            if let classes {
                imported.modelFile = imported.modelFile.resized(classes: classes)
                imported.model = try Model(file: imported.modelFile, source: path)
            }
            let choice = grid ?? .spatial
            return (try choice.apply(to: imported.model, ranks: ranks, search: search), imported, choice.rawValue)
        case (nil, let path?):
            if !deriveGrids {
                guard batch == nil, imageSize == nil else {
                    throw CLIError("--batch and --image-size apply to --graph, not --model")
                }
            }
            let file = try ModelFile.load(path: path)
            return try resolve(file, source: path, ranks: ranks, deriveGrids: deriveGrids, classes: classes, search: search)
        case (nil, nil):
            guard deriveGrids else { throw CLIError("give --model FILE or --graph FILE") }
            let file = try ModelFile(json: Data(ModelFile.defaultModelJSON.utf8), source: ModelFile.defaultModelName)
            return try resolve(file, source: ModelFile.defaultModelName, ranks: ranks, deriveGrids: true, classes: classes,
                               search: search)
        case (_?, _?): throw CLIError("give --model or --graph, not both")
        }
    }

    private func resolve(_ file: ModelFile, source: String, ranks: Int, deriveGrids: Bool, classes: Int?,
                         search: ((Model) throws -> Model)?) throws
        -> (model: Model, imported: ImportedGraph?, policy: String?)
    {
        let resized = file.resized(batch: batch, imageSize: imageSize, classes: classes)
        let m = try Model(file: resized, source: source)
        if let grid { return (try grid.apply(to: m, ranks: ranks, search: search), nil, grid.rawValue) }
        if deriveGrids && !resized.gridsSpan(ranks: ranks) {
            return (try GridPolicy.spatial.apply(to: m, ranks: ranks), nil, "spatial")
        }
        if deriveGrids, (try? Partition(model: m, ranks: ranks)) == nil {
            // The file's grids do not fit this batch or image: derive them.
            return (try GridPolicy.spatial.apply(to: m, ranks: ranks), nil, "spatial")
        }
        return (m, nil, nil)
    }
}

/// `--grid`: a fixed policy, or `auto` (the cost model's grid search).
enum GridChoice: String, ExpressibleByArgument, CaseIterable {
    case batch, spatial, hybrid, auto

    var policy: GridPolicy? { GridPolicy(rawValue: rawValue) }

    func apply(to model: Model, ranks: Int, search: ((Model) throws -> Model)?) throws -> Model {
        if let policy { return try policy.apply(to: model, ranks: ranks) }
        guard let search else { throw CLIError("--grid auto is not available here") }
        return try search(model)
    }
}

/// Checks `--rank` against `--ranks`.
func checkRank(_ rank: Int?, ranks: Int) throws {
    if let rank, !(0..<ranks).contains(rank) {
        throw CLIError("--rank \(rank) is out of range for --ranks \(ranks) (0...\(ranks - 1))")
    }
}
