import Geometry

/// Collects tensor and op layouts in dump order while the partitioner walks the model.
struct PartitionBuilder {
    let model: Model
    let ranks: Int
    var tensors: [TensorPartition] = []
    var ops: [OpPartition] = []
    var index: [String: Int] = [:]
    /// Per tensor, per rank: union of the regions forward ops read.
    private var readers: [String: [Rect?]] = [:]

    init(model: Model, ranks: Int) {
        self.model = model
        self.ranks = ranks
    }

    mutating func add(_ t: TensorPartition) {
        index[t.name] = tensors.count
        tensors.append(t)
    }

    private func role(of info: TensorInfo) -> TensorPartition.Role {
        switch info.role {
        case .activation: return .activation
        case .input: return .input
        case .parameter: return .parameter
        case .result: return .result
        }
    }

    private mutating func noteRead(_ name: String, _ rects: [Rect]) {
        var current = readers[name] ?? Array(repeating: nil, count: ranks)
        for r in 0..<ranks { current[r] = current[r].map { $0.union(rects[r]) } ?? rects[r] }
        readers[name] = current
    }

    // MARK: Forward

    mutating func addForward(_ regions: [[ForwardRegions]]) {
        // First pass: who reads what, so read rects are known when tensors are listed.
        for (i, op) in model.ops.enumerated() {
            let reg = regions[i]
            if let input = op.input, let rects = perRank(reg, \.input) { noteRead(input, rects) }
            if let labels = op.labels, let rects = perRank(reg, \.labels) { noteRead(labels, rects) }
            for (p, (name, _)) in reg[0].parameters.enumerated() { noteRead(name, reg.map { $0.parameters[p].1 }) }
        }
        for (i, op) in model.ops.enumerated() {
            let reg = regions[i]
            var reads: [OpPartition.Access] = []
            if let input = op.input, let rects = perRank(reg, \.input) { reads.append(.init(tensor: input, rects: rects)) }
            if let labels = op.labels, let rects = perRank(reg, \.labels) { reads.append(.init(tensor: labels, rects: rects)) }
            for (p, (name, _)) in reg[0].parameters.enumerated() {
                reads.append(.init(tensor: name, rects: reg.map { $0.parameters[p].1 }))
                if index[name] == nil {
                    add(TensorPartition(name: name, dim: model.tensor(name).shape, role: .parameter,
                                        read: readers[name] ?? Array(repeating: nil, count: ranks),
                                        write: Array(repeating: nil, count: ranks), isPartialSum: false))
                }
            }
            let writes = op.outputs.enumerated().map { k, name in OpPartition.Access(tensor: name, rects: reg.map { $0.outputs[k] }) }
            ops.append(OpPartition(
                name: op.name, phase: .forward, forwardOp: nil, resultDim: op.outputShape,
                distInput: perRank(reg, \.input),
                distFilters: perRank(reg, \.filters),
                distResult: reg.map(\.result), reads: reads, writes: writes))
            for w in writes {
                let info = model.tensor(w.tensor)
                add(TensorPartition(name: w.tensor, dim: info.shape, role: role(of: info),
                                 read: readers[w.tensor] ?? w.rects.map { $0 }, write: w.rects.map { $0 },
                                 isPartialSum: op.writesPartialSums && w.tensor == op.outputs[0]))
            }
            if case .evaluate = op.kind {
                // The metrics the evaluation sums are read out as accuracy.
                let out = op.outputs[0]
                let whole = Array(repeating: Rect(shape: op.outputShape), count: ranks)
                ops.append(OpPartition(
                    name: "\(op.name).accuracy", phase: .forward, forwardOp: nil, resultDim: [1],
                    distInput: whole, distFilters: nil, distResult: Array(repeating: Rect(shape: [1]), count: ranks),
                    reads: [.init(tensor: out, rects: whole)], writes: []))
            }
        }
    }
}

/// One optional region of an op on every rank, or nil when the op has none: an op has
/// an input (filters, labels) on every rank or on none.
func perRank(_ regions: [ForwardRegions], _ key: KeyPath<ForwardRegions, Rect?>) -> [Rect]? {
    guard regions.first?[keyPath: key] != nil else { return nil }
    return regions.enumerated().map { r, region in
        guard let rect = region[keyPath: key] else { preconditionFailure("region \(key) on rank 0 but not on rank \(r)") }
        return rect
    }
}
