/// A graph dump imported as a distconv model: the same `ModelFile`/`Model` as
/// `examples/*.json` describe, plus the map from the dump's tensor ids and ops to the
/// model's names, so reports can speak of both.
///
/// Naming: parameters `/predictor/conv1_1/W` become `conv1_1.W` and the op using them
/// `conv1_1`; ops without parameters are numbered per kind (`relu1`, `pool1`, `dropout1`,
/// `flatten1`); the loss is `loss`; the traced inputs are `data.raw_output` (images) and
/// `data.labels_output` (labels). Every op's grid is `[1, 1, 1, 1]`; choose grids with a
/// `GridPolicy`.
public struct ImportedGraph: Sendable {
    public var graph: ChainerGraph
    /// The model file (without grids), at the batch and image size asked for.
    public var modelFile: ModelFile
    /// The checked model of `modelFile`.
    public var model: Model
    /// For each dump tensor id, the model tensor it became (nil for a tensor no op uses).
    public var tensorNames: [String?]
    /// For each dump op (file order), the model op it became; backward ops map to
    /// `<op>.grad`, the partition's name for them.
    public var opNames: [String]
    /// The dump's own batch size and image side, as inferred from its bytes.
    public var dumpBatch: Int
    public var dumpImageSize: Int

    /// Reads and imports a graph dump. Throws `GraphError` (with the line) for anything
    /// wrong in the file, and `ModelError` when the chosen batch or image size does not
    /// fit the architecture (an image too small for its pooling layers).
    public static func load(path: String, options: GraphImportOptions = .init()) throws -> ImportedGraph {
        try ImportedGraph(graph: try ChainerGraph.load(path: path), options: options)
    }

    /// Bytes of the dump's tensors at this model's shapes (float32 and int32 labels, 4
    /// bytes each): the dump's own total when batch and image size are the dump's.
    public var tensorBytes: Int {
        tensorNames.compactMap { $0 }.reduce(0) { $0 + 4 * model.tensor($1).shape.reduce(1, *) }
    }

    /// Bytes of the model's parameters.
    public var parameterBytes: Int {
        model.tensors.values.filter { $0.role == .parameter }.reduce(0) { $0 + 4 * $1.shape.reduce(1, *) }
    }
}

extension ImportedGraph {
    /// Imports a parsed graph (see the type's documentation for names and options).
    public init(graph: ChainerGraph, options: GraphImportOptions = .init()) throws {
        var importer = GraphImporter(graph: graph)
        var file = try importer.run()
        try importer.mapBackward()
        let dumpModel: Model
        do {
            dumpModel = try Model(file: file, source: graph.source)
        } catch let e as ModelError {
            throw GraphError(file: graph.source, line: nil, "cannot import: \(e.description)")
        }
        try importer.verify(dumpModel)

        var model = dumpModel
        let dumpShape = file.ops[0].shape ?? []
        if options.batch != nil || options.imageSize != nil, dumpShape.count == 4 {
            let side = options.imageSize ?? dumpShape[2]
            file.ops[0].shape = [options.batch ?? dumpShape[0], dumpShape[1], side, side]
            model = try Model(file: file, source: graph.source)
        }
        // `tensorBytes` and the memory plan add these up (gradients and optimizer state
        // beside them): a total past 2^60 bytes is no machine's, and its sums would overflow.
        var total = 0
        for t in model.tensors.values {
            let (sum, overflow) = total.addingReportingOverflow(4 * (ModelBuilder.product(t.shape) ?? Int.max / 4))
            guard !overflow, sum <= 1 << 60 else {
                let shape = file.ops[0].shape ?? []
                throw ModelError(
                    file: graph.source, op: "data", field: "shape",
                    "at batch \(shape.first ?? 0) and image size \(shape.last ?? 0) the tensors hold more than 2^60 bytes")
            }
            total = sum
        }
        self.graph = graph
        self.modelFile = file
        self.model = model
        self.tensorNames = importer.tensorNames
        self.opNames = importer.opNames.map { $0 ?? "" }
        self.dumpBatch = importer.batch
        self.dumpImageSize = importer.imageSize
    }
}
