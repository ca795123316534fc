extension GraphImporter {
    /// Adds the model op for forward dump op `i`: Convolution2DFunction -> conv2d,
    /// MaxPooling2D -> max_pool (cover_all kept), LinearFunction -> linear, ReLU -> relu,
    /// Dropout -> dropout, Reshape `[N, -1]` -> flatten, SoftmaxCrossEntropy ->
    /// softmax_cross_entropy.
    mutating func convert(_ i: Int) throws(GraphError) {
        let op = graph.ops[i]
        guard let x = op.inputs.first?.tensor else { throw error(op.line, "\(op.function.typeName) has no inputs") }
        guard !graph.tensors[x].isParameter, let input = tensorNames[x] else {
            throw error(
                op.line,
                "\(op.function.typeName) reads tensor \(x) (line \(graph.tensors[x].line)) before any op writes it")
        }
        let inShape = shape(input)
        let params = Array(op.inputs.dropFirst().map(\.tensor))
        var entry: ModelFile.OpEntry

        switch op.function {
        case .convolution2D(let a):
            guard a.coverAll != true else {
                throw error(op.attributesLine, "a convolution with cover_all is not supported")
            }
            guard (1...2).contains(params.count) else {
                throw error(
                    op.line, "Convolution2DFunction has \(op.inputs.count) inputs; expected x, W and optionally b")
            }
            let (layer, weights) = try parameterName(params[0], of: op)
            let bias = params.count > 1 ? try parameterName(params[1], of: op).name : nil
            let found = ShapeInference.convolution(
                input: inShape, weights: try elements(params[0]),
                bias: params.count > 1 ? try elements(params[1]) : nil,
                output: try elements(op.outputs[0]), a)
            guard found.count == 1 else {
                throw error(
                    op.line,
                    "cannot infer the kernel of \(layer): \(found.count) square kernels fit input \(inShape), \(graph.tensors[params[0]].bytes) bytes of weights and \(graph.tensors[op.outputs[0]].bytes) bytes of output"
                )
            }
            entry = .init(name: uniqueName(layer), type: "conv2d", input: input)
            entry.outChannels = found[0].outChannels
            entry.kernel = [found[0].kernel, found[0].kernel]
            entry.stride = [a.sy, a.sx]
            entry.padding = [a.ph, a.pw]
            entry.dilation = [a.dy ?? 1, a.dx ?? 1]
            entry.groups = a.groups ?? 1
            entry.weights = weights
            entry.bias = bias
            entry.hasBias = bias != nil

        case .linear:
            guard (1...2).contains(params.count) else {
                throw error(op.line, "LinearFunction has \(op.inputs.count) inputs; expected x, W and optionally b")
            }
            let (layer, weights) = try parameterName(params[0], of: op)
            let features = inShape.dropFirst().reduce(1, *)
            let w = try elements(params[0])
            guard w % features == 0 else {
                throw error(
                    op.line,
                    "\(layer): \(w) weights do not split into rows of \(features) input features (input \(inShape))")
            }
            if params.count > 1, try elements(params[1]) != w / features {
                throw error(
                    op.line, "\(layer): bias of \(try elements(params[1])) elements for \(w / features) outputs")
            }
            entry = .init(name: uniqueName(layer), type: "linear", input: input)
            entry.outFeatures = w / features
            entry.weights = weights
            entry.bias = params.count > 1 ? try parameterName(params[1], of: op).name : nil
            entry.hasBias = params.count > 1

        case .maxPooling2D(let a):
            entry = .init(name: numberedName("pool"), type: "max_pool", input: input)
            entry.kernel = [a.kh, a.kw]
            entry.stride = [a.sy, a.sx]
            entry.padding = [a.ph, a.pw]
            entry.coverAll = a.coverAll

        case .relu:
            entry = .init(name: numberedName("relu"), type: "relu", input: input)

        case .dropout(let ratio):
            entry = .init(name: numberedName("dropout"), type: "dropout", input: input)
            entry.ratio = ratio

        case .reshape(let target):
            let features = inShape.dropFirst().reduce(1, *)
            guard target.count == 2, target[0] == inShape[0] || target[0] == -1,
                target[1] == -1 || target[1] == features
            else {
                throw error(
                    op.attributesLine,
                    "Reshape to \(target) is not a flatten of \(inShape); expected [\(inShape[0]), -1]")
            }
            entry = .init(name: numberedName("flatten"), type: "flatten", input: input)

        case .softmaxCrossEntropy:
            entry = .init(name: uniqueName("loss"), type: "softmax_cross_entropy", input: input)
        }
        try add(entry, line: op.line)
        tensorNames[op.outputs[0]] = "\(entry.name).output"
        opNames[i] = entry.name
        for (p, id) in params.enumerated() where op.function != .softmaxCrossEntropy {
            tensorNames[id] = p == 0 ? entry.weights : entry.bias
        }
    }

    /// `name`, or `name_2`, `name_3`, ... when an op already has it (a shared layer).
    mutating func uniqueName(_ name: String) -> String {
        var candidate = name, n = 1
        while usedNames.contains(candidate) {
            n += 1
            candidate = "\(name)_\(n)"
        }
        return candidate
    }

    /// Names every backward op after the forward op it differentiates (`conv1_1.grad`):
    /// the one of the same function whose inputs include every tensor whose gradient
    /// the backward op writes.
    mutating func mapBackward() throws(GraphError) {
        for (i, op) in graph.ops.enumerated() where op.phase == .backward {
            let targets = Set(op.outputs)
            let match = graph.ops.indices.first { f in
                let forward = graph.ops[f]
                return forward.phase == .forward && forward.function.typeName == op.function.typeName
                    && (op.generation == nil || forward.generation == op.generation)
                    && targets.isSubset(of: forward.inputs.map(\.tensor))
            }
            guard let match, let name = opNames[match] else {
                throw error(
                    op.line,
                    "backward \(op.function.typeName) writes gradients of tensors \(op.outputs.sorted()), but no forward \(op.function.typeName) reads them"
                )
            }
            opNames[i] = name + ".grad"
        }
    }

    /// Checks the model against the dump: every tensor's shape must give its bytes.
    func verify(_ model: Model) throws(GraphError) {
        for t in graph.tensors {
            guard let name = tensorNames[t.id], let info = model.tensors[name] else { continue }
            let bytes = 4 * info.shape.reduce(1, *)
            guard bytes == t.bytes else {
                throw error(
                    t.line,
                    "tensor \(t.id) has \(t.bytes) bytes, but the imported model makes it \(name) of shape \(info.shape) = \(bytes) bytes"
                )
            }
        }
    }
}
