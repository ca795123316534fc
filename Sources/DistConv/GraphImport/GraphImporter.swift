/// Turns a parsed graph dump into a model file at the dump's own batch and image size,
/// walking the forward ops in Chainer's generation order. See `ImportedGraph` for names.
struct GraphImporter {
    let graph: ChainerGraph
    var entries: [ModelFile.OpEntry] = []
    /// Model tensor name per dump tensor id.
    var tensorNames: [String?]
    /// Model op name per dump op index (forward ops only until `mapBackward`).
    var opNames: [String?]
    var batch = 0
    var imageSize = 0
    var builder: ModelBuilder
    var usedNames: Set<String> = ["data"]
    var counters: [String: Int] = [:]

    init(graph: ChainerGraph) {
        self.graph = graph
        self.tensorNames = Array(repeating: nil, count: graph.tensors.count)
        self.opNames = Array(repeating: nil, count: graph.ops.count)
        self.builder = ModelBuilder(source: graph.source)
    }

    func error(_ line: Int?, _ problem: String) -> GraphError {
        GraphError(file: graph.source, line: line, problem)
    }

    /// Forward op indices in execution order: by generation when every op has one (the
    /// file lists them in no order), else in file order.
    func forwardOrder() -> [Int] {
        let forward = graph.ops.indices.filter { graph.ops[$0].phase == .forward }
        guard forward.allSatisfy({ graph.ops[$0].generation != nil }) else { return forward }
        return forward.sorted { (graph.ops[$0].generation ?? 0, $0) < (graph.ops[$1].generation ?? 0, $1) }
    }

    /// Element count of a tensor of 4-byte elements (float32 data, int32 labels).
    func elements(_ id: Int) throws(GraphError) -> Int {
        let t = graph.tensors[id]
        guard t.bytes % 4 == 0, t.bytes > 0 else {
            throw error(
                t.line,
                "tensor \(id) has \(t.bytes) bytes; expected a positive multiple of 4 (float32 or int32 elements)")
        }
        return t.bytes / 4
    }

    mutating func run() throws(GraphError) -> ModelFile {
        let order = forwardOrder()
        guard let first = order.first else { throw error(1, "the graph has no forward ops") }
        var producer: [Int: Int] = [:]
        for i in order {
            let op = graph.ops[i]
            guard op.outputs.count == 1 else {
                throw error(op.line, "forward \(op.function.typeName) has \(op.outputs.count) outputs; expected 1")
            }
            if let earlier = producer[op.outputs[0]] {
                throw error(
                    op.line,
                    "tensor \(op.outputs[0]) is written by this op and by the op on line \(graph.ops[earlier].line)")
            }
            producer[op.outputs[0]] = i
        }

        // The loss fixes the batch (one int32 label per sample) and the classes.
        let losses = order.filter { graph.ops[$0].function == .softmaxCrossEntropy }
        guard losses.count == 1 else {
            throw error(
                losses.count > 1 ? graph.ops[losses[1]].line : nil,
                "the graph has \(losses.count) SoftmaxCrossEntropy ops; distconv imports training graphs with exactly one loss"
            )
        }
        let loss = graph.ops[losses[0]]
        guard loss.inputs.count == 2 else {
            throw error(loss.line, "SoftmaxCrossEntropy has \(loss.inputs.count) inputs; expected 2 (scores, labels)")
        }
        let labels = loss.inputs[1].tensor
        guard producer[labels] == nil, !graph.tensors[labels].isParameter else {
            throw error(
                loss.line, "the loss's labels (tensor \(labels)) must be an input of the graph, not computed or trained"
            )
        }
        batch = try elements(labels)
        let scores = try elements(loss.inputs[0].tensor)
        guard scores % batch == 0, scores / batch >= 2 else {
            throw error(
                graph.tensors[loss.inputs[0].tensor].line,
                "the loss's scores hold \(scores) elements; expected \(batch) samples x at least 2 classes")
        }

        // The first op reads the images; a convolution tells their channels and side.
        let firstOp = graph.ops[first]
        guard let image = firstOp.inputs.first?.tensor, producer[image] == nil, !graph.tensors[image].isParameter else {
            throw error(firstOp.line, "the first op must read the graph's input images")
        }
        guard case .convolution2D(let a) = firstOp.function, firstOp.inputs.count >= 2 else {
            throw error(
                firstOp.line,
                "the first op is \(firstOp.function.typeName); expected Convolution2DFunction, whose weights tell the input's channels and size"
            )
        }
        let found = ShapeInference.firstConvolution(
            batch: batch, inputElements: try elements(image), weights: try elements(firstOp.inputs[1].tensor),
            bias: firstOp.inputs.count > 2 ? try elements(firstOp.inputs[2].tensor) : nil,
            output: try elements(firstOp.outputs[0]), a)
        guard found.count == 1 else {
            throw error(
                firstOp.line,
                "cannot infer the input images' shape from \(graph.tensors[image].bytes) bytes and \(batch) labels: \(found.count) square shapes fit this convolution"
            )
        }
        imageSize = found[0].inputShape[2]
        var data = ModelFile.OpEntry(name: "data", type: "data")
        data.shape = found[0].inputShape
        data.classes = scores / batch
        try add(data, line: firstOp.line)
        tensorNames[image] = "data.raw_output"
        tensorNames[labels] = "data.labels_output"

        for i in order { try convert(i) }
        return ModelFile(name: modelName, ops: entries)
    }

    /// The model's name: the file's base name up to its first dot or `-chainer`.
    var modelName: String {
        let base = graph.source.split(separator: "/").last.map(String.init) ?? graph.source
        let stem = base.split(separator: ".").first.map(String.init) ?? base
        return stem.components(separatedBy: "-chainer").first ?? stem
    }

    mutating func add(_ entry: ModelFile.OpEntry, line: Int) throws(GraphError) {
        do {
            try builder.add(entry)
        } catch let e as ModelError {
            throw error(
                line, "cannot import \(entry.type) '\(entry.name)': \(e.field.map { "\($0) " } ?? "")\(e.problem)")
        } catch {
            throw self.error(line, "cannot import \(entry.type) '\(entry.name)': \(error)")
        }
        entries.append(entry)
        usedNames.insert(entry.name)
    }

    func shape(_ modelTensor: String) -> [Int] { builder.tensors[modelTensor]?.shape ?? [] }

    /// `rel1`, `pool2`, ...: the next free numbered name for a kind of op.
    mutating func numberedName(_ kind: String) -> String {
        var n = counters[kind, default: 0]
        var name: String
        repeat {
            n += 1
            name = "\(kind)\(n)"
        } while usedNames.contains(name)
        counters[kind] = n
        return name
    }

    /// `/predictor/conv1_1/W` -> (`conv1_1`, `conv1_1.W`); a leading `predictor` (Chainer's
    /// Classifier wrapper) is dropped.
    func parameterName(_ id: Int, of op: GraphOp) throws(GraphError) -> (layer: String, name: String) {
        let t = graph.tensors[id]
        guard t.isParameter else {
            throw error(
                op.line,
                "\(op.function.typeName) reads tensor \(id) ('\(t.name)') as a weight; expected a parameter named like /predictor/conv1_1/W"
            )
        }
        var parts = t.name.split(separator: "/").map(String.init)
        if parts.count > 2 && parts[0] == "predictor" { parts.removeFirst() }
        guard parts.count >= 2 else { return (parts.joined(), parts.joined()) }
        let layer = parts.dropLast().joined(separator: ".")
        return (layer, layer + "." + (parts.last ?? ""))
    }
}
