import Foundation
import Geometry

extension ModelFile {
    /// Reads a model file without checking it (see `Model(file:source:)`).
    public static func load(path: String) throws -> ModelFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(file: path, "cannot read the file")
        }
        return try ModelFile(json: data, source: path)
    }

    /// Parses model JSON; `source` names it in errors.
    public init(json: Data, source: String) throws {
        do {
            self = try JSONDecoder().decode(ModelFile.self, from: json)
        } catch let error as DecodingError {
            throw ModelError(file: source, field: error.fieldPath, "malformed model: \(error.summary)")
        } catch {
            throw ModelError(file: source, "malformed JSON: \(error.localizedDescription)")
        }
    }
}

extension Model {
    /// Reads and checks a model file (`examples/*.json`).
    public static func load(path: String) throws -> Model {
        try Model(file: ModelFile.load(path: path), source: path)
    }

    /// Parses and checks model JSON; `source` names it in errors.
    public init(json: Data, source: String) throws {
        try self.init(file: ModelFile(json: json, source: source), source: source)
    }

    /// Checks a decoded model file and infers every tensor's shape.
    public init(file: ModelFile, source: String) throws {
        if let format = file.format, format != ModelFile.formatName {
            throw ModelError(file: source, field: "format", "is '\(format)', expected '\(ModelFile.formatName)'")
        }
        if let version = file.version, version != ModelFile.currentVersion {
            throw ModelError(
                file: source, field: "version",
                "is \(version); this distconv reads version \(ModelFile.currentVersion) model files")
        }
        var builder = ModelBuilder(source: source)
        for entry in file.ops { try builder.add(entry) }
        try builder.finish()
        self.init(name: file.name, source: source, ops: builder.ops, tensors: builder.tensors,
                  tensorOrder: builder.tensorOrder)
    }
}

/// Walks a model file's ops in order, resolving inputs and inferring shapes.
struct ModelBuilder {
    let source: String
    var ops: [Op] = []
    var tensors: [String: TensorInfo] = [:]
    var tensorOrder: [String] = []
    private var mainOutputOf: [String: String] = [:]

    /// The most elements one tensor may have: its bytes, even in Double, and sums of a few
    /// such tensors still fit in an Int, so that a model too large for any machine reaches
    /// the memory plan, which says so, instead of overflowing on the way.
    static let maximumElements = 1 << 58
    /// The most ranks one op's grid may span.
    static let maximumRanks = 1 << 20
    /// The most classes a data op may have (as `--classes`).
    static let maximumClasses = 1 << 20

    init(source: String) { self.source = source }

    /// The product of `values`, nil when it overflows (sizes come from files: any value).
    static func product(_ values: [Int]) -> Int? {
        var result = 1
        for v in values {
            let (p, overflow) = result.multipliedReportingOverflow(by: v)
            if overflow { return nil }
            result = p
        }
        return result
    }

    func error(_ entry: ModelFile.OpEntry, _ field: String?, _ problem: String) -> ModelError {
        ModelError(file: source, op: entry.name, field: field, problem)
    }

    mutating func define(_ name: String, _ shape: [Int], _ role: TensorInfo.Role, by entry: ModelFile.OpEntry) throws {
        guard let elements = Self.product(shape), elements <= Self.maximumElements else {
            throw error(entry, nil, "tensor '\(name)' of shape \(shape) has more than 2^58 elements")
        }
        if let existing = tensors[name] {
            // A parameter may be shared by ops only with the same shape.
            guard role == .parameter, existing.role == .parameter, existing.shape == shape else {
                throw error(entry, nil, "tensor '\(name)' is defined twice")
            }
            return
        }
        tensors[name] = TensorInfo(name: name, shape: shape, role: role)
        tensorOrder.append(name)
    }

    mutating func add(_ e: ModelFile.OpEntry) throws {
        guard !e.name.isEmpty else { throw ModelError(file: source, op: "#\(ops.count)", field: "name", "is empty") }
        guard mainOutputOf[e.name] == nil else { throw error(e, "name", "an op of this name comes earlier") }
        guard OpKind.typeNames.contains(e.type) else {
            throw error(e, "type", "unknown op type '\(e.type)' (known: \(OpKind.typeNames.joined(separator: ", ")))")
        }
        if ops.isEmpty && e.type != "data" { throw error(e, "type", "the first op must be 'data', not '\(e.type)'") }
        if !ops.isEmpty && e.type == "data" { throw error(e, "type", "only the first op may be 'data'") }

        let grid = e.grid ?? ops.last?.grid ?? [1, 1, 1, 1]
        guard grid.count == 4 else { throw error(e, "grid", "has \(grid.count) entries \(grid), expected 4 (N, C, H, W)") }
        guard grid.allSatisfy({ $0 >= 1 }) else { throw error(e, "grid", "\(grid) has an entry below 1") }
        guard Self.product(grid).map({ $0 <= Self.maximumRanks }) ?? false else {
            throw error(e, "grid", "\(grid) spans more than 2^20 ranks")
        }

        if e.type == "data" { return try addData(e, grid: grid) }

        let inputName = try resolveInput(e)
        guard let inShape = tensors[inputName]?.shape else { throw error(e, "input", "no tensor '\(inputName)'") }
        let p = OpParameters(entry: e, builder: self)
        var parameters: [String] = []
        var outputs = ["\(e.name).output"]
        var labels: String?
        let kind: OpKind
        var outShape: [Int]

        switch e.type {
        case "conv2d":
            let spec = try p.conv2d()
            let cin = inShape[1]
            guard cin % spec.groups == 0, spec.outChannels % spec.groups == 0 else {
                throw error(e, "groups", "\(spec.groups) groups do not divide \(cin) input and \(spec.outChannels) output channels")
            }
            outShape = [inShape[0], spec.outChannels] + (try windowOutput(e, inShape, spec.kernel, spec.stride, spec.padding, spec.dilation, coverAll: false))
            try define(spec.weights, [spec.outChannels, cin / spec.groups, spec.kernel[0], spec.kernel[1]], .parameter, by: e)
            parameters.append(spec.weights)
            if let b = spec.bias { try define(b, [spec.outChannels], .parameter, by: e); parameters.append(b) }
            kind = .conv2d(spec)
        case "locally_connected":
            let spec = try p.locallyConnected()
            var tiles: [Int] = []
            for d in 0..<2 {
                let n = windowOutputLength(inputLength: inShape[2 + d], kernel: spec.kernel[d], stride: spec.tileStride, padding: 0)
                guard n >= 1 else {
                    throw error(e, "kernel", "\(spec.kernel[0])x\(spec.kernel[1]) kernel larger than the \(inShape[2])x\(inShape[3]) input")
                }
                tiles.append(n)
            }
            guard let height = Self.product([tiles[0], spec.tileSize[0]]), let width = Self.product([tiles[1], spec.tileSize[1]])
            else { throw error(e, "tile_size", "\(tiles[0])x\(tiles[1]) tiles of \(spec.tileSize) outputs overflow") }
            outShape = [inShape[0], spec.outChannels, height, width]
            try define(spec.weights, [spec.outChannels, spec.tileSize[0], spec.tileSize[1], inShape[1],
                                      spec.kernel[0], spec.kernel[1], tiles[0], tiles[1]], .parameter, by: e)
            parameters.append(spec.weights)
            kind = .locallyConnected(spec)
        case "affine":
            let scale = e.scale ?? "\(e.name).a", bias = e.bias ?? "\(e.name).b"
            outShape = inShape
            try define(scale, [1], .parameter, by: e)
            try define(bias, [1] + inShape[1...], .parameter, by: e)
            parameters = [scale, bias]
            kind = .affine(scale: scale, bias: bias)
        case "relu", "tanh", "sigmoid":
            outShape = inShape
            guard let activation = Activation(rawValue: e.type) else { throw error(e, "type", "unknown activation") }
            kind = .activation(activation)
        case "max_pool", "avg_pool":
            let spec = try p.pool(mode: e.type == "max_pool" ? .max : .average)
            outShape = [inShape[0], inShape[1]] + (try windowOutput(e, inShape, spec.kernel, spec.stride, spec.padding, [1, 1], coverAll: spec.coverAll))
            kind = .pool(spec)
        case "batch_norm":
            guard (e.eps ?? 1e-5) > 0 else { throw error(e, "eps", "is \(e.eps ?? 0), must be above 0") }
            guard (0...1).contains(e.momentum ?? 0.1) else {
                throw error(e, "momentum", "is \(e.momentum ?? 0), must be in [0, 1]")
            }
            let spec = BatchNormSpec(eps: e.eps ?? 1e-5, momentum: e.momentum ?? 0.1,
                                     gamma: e.scale ?? "\(e.name).gamma", beta: e.bias ?? "\(e.name).beta")
            outShape = inShape
            try define(spec.gamma, [inShape[1]], .parameter, by: e)
            try define(spec.beta, [inShape[1]], .parameter, by: e)
            parameters = [spec.gamma, spec.beta]
            kind = .batchNorm(spec)
        case "dropout":
            let ratio = e.ratio ?? 0.5
            guard ratio >= 0 && ratio < 1 else { throw error(e, "ratio", "is \(ratio), must be in [0, 1)") }
            outShape = inShape
            kind = .dropout(ratio: ratio)
        case "flatten":
            outShape = [inShape[0], inShape[1] * inShape[2] * inShape[3], 1, 1]
            kind = .flatten
        case "linear":
            guard let out = e.outFeatures, out >= 1 else { throw error(e, "out_features", "is missing or below 1") }
            let weights = e.weights ?? "\(e.name).W"
            let bias = (e.hasBias ?? true) ? (e.bias ?? "\(e.name).b") : nil
            outShape = [inShape[0], out, 1, 1]
            try define(weights, [out] + inShape[1...], .parameter, by: e)
            parameters.append(weights)
            if let bias { try define(bias, [out], .parameter, by: e); parameters.append(bias) }
            kind = .linear(LinearSpec(outFeatures: out, weights: weights, bias: bias))
        case "softmax_cross_entropy", "multiclass_svm":
            guard inShape[2] == 1 && inShape[3] == 1 else {
                throw error(e, "input", "a loss reads [N, classes, 1, 1] scores, got \(inShape)")
            }
            labels = ops[0].outputs[1]
            outShape = [1, 1, 1, 1]
            outputs.append("\(e.name).probability")
            guard let loss = LossKind(rawValue: e.type) else { throw error(e, "type", "unknown loss") }
            kind = .loss(loss)
        case "evaluate":
            labels = ops[0].outputs[1]
            outShape = [4, 1, 1, 1]
            kind = .evaluate
        default:
            throw error(e, "type", "unknown op type '\(e.type)'")
        }

        try define(outputs[0], outShape, e.type == "evaluate" || e.type.hasSuffix("_entropy") || e.type.hasSuffix("_svm") ? .result : .activation, by: e)
        if outputs.count > 1 { try define(outputs[1], inShape, .activation, by: e) }
        mainOutputOf[e.name] = outputs.count > 1 ? outputs[1] : outputs[0]
        ops.append(Op(name: e.name, kind: kind, input: inputName, labels: labels, parameters: parameters,
                      outputs: outputs, inputShape: inShape, outputShape: outShape, grid: grid))
    }

    private mutating func addData(_ e: ModelFile.OpEntry, grid: [Int]) throws {
        guard let shape = e.shape, shape.count == 4, shape.allSatisfy({ $0 >= 1 }) else {
            throw error(e, "shape", "must be [N, C, H, W] with every entry at least 1")
        }
        guard let classes = e.classes, classes >= 2 else { throw error(e, "classes", "is missing or below 2") }
        guard classes <= Self.maximumClasses else { throw error(e, "classes", "is \(classes), above 2^20") }
        let outputs = ["\(e.name).raw_output", "\(e.name).labels_output"]
        try define(outputs[0], shape, .input, by: e)
        try define(outputs[1], [shape[0], 1, 1, 1], .input, by: e)
        mainOutputOf[e.name] = outputs[0]
        ops.append(Op(name: e.name, kind: .data(shape: shape, classes: classes), input: nil, labels: nil,
                      parameters: [], outputs: outputs, inputShape: shape, outputShape: shape, grid: grid))
    }

    /// The input tensor: the named op's main output, a named tensor, or the previous op's.
    private func resolveInput(_ e: ModelFile.OpEntry) throws -> String {
        guard let name = e.input else {
            guard let previous = ops.last, let output = mainOutputOf[previous.name] else {
                throw error(e, "input", "no earlier op to read from")
            }
            return output
        }
        if let t = mainOutputOf[name] { return t }
        if let t = tensors[name], t.role == .activation || t.role == .input { return name }
        throw error(e, "input", "no earlier op or tensor is named '\(name)'")
    }

    private func windowOutput(
        _ e: ModelFile.OpEntry, _ inShape: [Int], _ kernel: [Int], _ stride: [Int], _ padding: [Int],
        _ dilation: [Int], coverAll: Bool
    ) throws -> [Int] {
        try (0..<2).map { d in
            let n = windowOutputLength(inputLength: inShape[2 + d], kernel: kernel[d], stride: stride[d],
                                       padding: padding[d], dilation: dilation[d], coverAll: coverAll)
            guard n >= 1 else {
                throw error(e, "kernel", "\(kernel[0])x\(kernel[1]) kernel (dilation \(dilation[0])x\(dilation[1])) "
                    + "larger than the padded \(inShape[2])x\(inShape[3]) input (padding \(padding[0])x\(padding[1]))")
            }
            return n
        }
    }

    func finish() throws {
        guard !ops.isEmpty else { throw ModelError(file: source, field: "ops", "the model has no ops") }
    }
}
