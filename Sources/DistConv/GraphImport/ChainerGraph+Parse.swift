import Foundation

extension ChainerGraph {
    /// Reads a graph dump from a file (see `ChainerGraph` for the format).
    public static func load(path: String) throws(GraphError) -> ChainerGraph {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GraphError(file: path, line: nil, "cannot read the file")
        }
        return try ChainerGraph(bytes: data, source: path)
    }

    /// Parses a graph dump's bytes (UTF-8; invalid sequences read as U+FFFD and are then
    /// reported where they stand); `source` names it in errors.
    public init(bytes: Data, source: String) throws(GraphError) {
        try self.init(text: String(decoding: bytes, as: UTF8.self), source: source)
    }

    /// Parses a graph dump; `source` names it in errors. Every error names the line and
    /// what was expected there: a header that is not two counts, a count that does not
    /// match the lines that follow (too few: "the file ends here"; too many: "expected the
    /// end of the file"), a tensor id out of range or listed twice, an unknown op type,
    /// attributes that are not JSON or lack a field the op needs.
    public init(text: String, source: String) throws(GraphError) {
        var reader = LineReader(text: text, source: source)
        let header = try reader.integers(2, expecting: "the header 'TENSORS OPS' (two counts)")
        let (tensorCount, opCount) = (header.values[0], header.values[1])
        guard tensorCount >= 0, opCount >= 0 else {
            throw reader.error(
                header.number, "expected non-negative counts in the header, found \(tensorCount) \(opCount)")
        }

        // By id; filled as lines arrive (a header's count must not size an array before
        // the lines are there to back it).
        var tensors: [Int: GraphTensor] = [:]
        var totalBytes = 0
        for k in 0..<tensorCount {
            let expected = "tensor \(k + 1) of \(tensorCount): 'ID BYTES NAME'"
            let (n, text) = try reader.line(expecting: expected)
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard fields.count == 3, let id = Int(fields[0]), let bytes = Int(fields[1]) else {
                throw reader.error(n, "expected \(expected), found '\(text.prefix(80))'")
            }
            try Self.check(id, count: tensorCount, line: n, reader: reader)
            // Sizes up to a petabyte, all of them up to 2^56 bytes: sums of them cannot overflow.
            guard bytes >= 0 && bytes <= 1 << 50 else {
                throw reader.error(n, "tensor \(id) has \(bytes) bytes; expected a count from 0 to 2^50")
            }
            totalBytes += bytes
            guard totalBytes <= 1 << 56 else {
                throw reader.error(n, "the tensors up to this one hold \(totalBytes) bytes, more than 2^56")
            }
            if let earlier = tensors[id] {
                throw reader.error(n, "tensor id \(id) is listed twice (first on line \(earlier.line))")
            }
            tensors[id] = GraphTensor(id: id, bytes: bytes, name: String(fields[2]), line: n)
        }

        var ops: [GraphOp] = []
        for k in 0..<opCount {
            ops.append(try Self.parseOp(&reader, index: k, of: opCount, tensorCount: tensorCount))
        }
        if !reader.isAtEnd {
            let n = reader.lineNumber
            let (_, text) = try reader.line(expecting: "the end of the file")
            throw reader.error(
                n, "expected the end of the file after \(opCount) ops (the header's count), found '\(text.prefix(80))'")
        }
        self.source = source
        // Distinct ids in 0..<count, count of them: every id is there.
        self.tensors = (0..<tensorCount).compactMap { tensors[$0] }
        self.ops = ops
    }

    private static func check(_ id: Int, count: Int, line: Int, reader: LineReader) throws(GraphError) {
        guard id >= 0 && id < count else {
            let range = count == 0 ? "there are none" : "ids 0...\(count - 1)"
            throw reader.error(line, "tensor id \(id) is out of range (the header declares \(count) tensors: \(range))")
        }
    }

    private static func parseOp(_ reader: inout LineReader, index k: Int, of count: Int, tensorCount: Int)
        throws(GraphError) -> GraphOp
    {
        let what = "op \(k + 1) of \(count)"
        let (start, keyword) = try reader.line(expecting: "\(what): 'forward' or 'backward'")
        guard let phase = GraphOp.Phase(rawValue: String(keyword)) else {
            throw reader.error(start, "expected \(what): 'forward' or 'backward', found '\(keyword.prefix(80))'")
        }
        let counts = try reader.integers(2, expecting: "the input and output counts of \(what): 'NIN NOUT'")
        let (nin, nout) = (counts.values[0], counts.values[1])
        guard nin >= 0, nout >= 0 else {
            throw reader.error(counts.number, "expected non-negative counts, found \(nin) \(nout)")
        }

        var inputs: [GraphOp.Input] = []
        for i in 0..<nin {
            let expected = "input \(i + 1) of \(nin) of \(what): 'ID ROLE' (role _, input, output or gradient)"
            let (n, text) = try reader.line(expecting: expected)
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard fields.count == 2, let id = Int(fields[0]), let role = GraphOp.Role(rawValue: String(fields[1]))
            else {
                throw reader.error(n, "expected \(expected), found '\(text.prefix(80))'")
            }
            try check(id, count: tensorCount, line: n, reader: reader)
            let allowed: Set<GraphOp.Role> = phase == .forward ? [.plain] : [.input, .output, .gradient]
            guard allowed.contains(role) else {
                throw reader.error(
                    n,
                    "role '\(role.rawValue)' on a \(phase.rawValue) op; expected \(allowed.map(\.rawValue).sorted().joined(separator: " or "))"
                )
            }
            inputs.append(GraphOp.Input(tensor: id, role: role))
        }
        var outputs: [Int] = []
        for i in 0..<nout {
            let (n, values) = try reader.integers(1, expecting: "output \(i + 1) of \(nout) of \(what): a tensor id")
            try check(values[0], count: tensorCount, line: n, reader: reader)
            outputs.append(values[0])
        }

        let (typeLine, typeName) = try reader.line(expecting: "the function type of \(what), e.g. ReLU")
        let (attributesLine, json) = try reader.line(expecting: "the attributes of \(what) as one JSON object")
        let function = try decodeFunction(
            String(typeName), json: json, typeLine: typeLine, line: attributesLine, reader: reader)
        let common = try decode(
            CommonAttributes.self, json, typeName: String(typeName), line: attributesLine, reader: reader)
        return GraphOp(
            phase: phase, inputs: inputs, outputs: outputs, function: function,
            generation: common.rank, line: start, attributesLine: attributesLine)
    }

    private static func decodeFunction(
        _ type: String, json: Substring, typeLine: Int, line: Int, reader: LineReader
    ) throws(GraphError) -> ChainerFunction {
        switch type {
        case "Convolution2DFunction":
            let a = try decode(ConvolutionAttributes.self, json, typeName: type, line: line, reader: reader)
            if let problem = a.rangeProblem { throw reader.error(line, "attributes of \(type): \(problem)") }
            return .convolution2D(a)
        case "MaxPooling2D":
            let a = try decode(PoolingAttributes.self, json, typeName: type, line: line, reader: reader)
            if let problem = a.rangeProblem { throw reader.error(line, "attributes of \(type): \(problem)") }
            return .maxPooling2D(a)
        case "LinearFunction": return .linear
        case "ReLU": return .relu
        case "Dropout":
            return .dropout(
                ratio: try decode(DropoutAttributes.self, json, typeName: type, line: line, reader: reader).dropoutRatio
            )
        case "Reshape":
            return .reshape(
                shape: try decode(ReshapeAttributes.self, json, typeName: type, line: line, reader: reader).shape)
        case "SoftmaxCrossEntropy": return .softmaxCrossEntropy
        default:
            throw reader.error(
                typeLine,
                "unknown op type '\(type.prefix(80))' (known: \(ChainerFunction.typeNames.joined(separator: ", ")))")
        }
    }

    private static func decode<T: Decodable>(
        _ type: T.Type, _ json: Substring, typeName: String, line: Int, reader: LineReader
    ) throws(GraphError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(json.utf8))
        } catch let error as DecodingError {
            let detail: String
            switch error {
            case .keyNotFound: detail = error.summary
            case .typeMismatch(_, let c) where c.codingPath.isEmpty: detail = "expected one JSON object {...}"
            default: detail = (error.fieldPath.map { "field '\($0)': " } ?? "") + error.summary
            }
            throw reader.error(line, "attributes of \(typeName): \(detail)")
        } catch {
            throw reader.error(line, "attributes of \(typeName): not valid JSON")
        }
    }
}
