import Comm
import Geometry
import Kernels

extension ExecutionPlan {
    /// The plan of `rank` for `partition`. Throws `ModelError` when a layer does not fit
    /// its shard (the kernels' own shape checks), naming the op. With `inputGradient`,
    /// ops reading the data set also compute the gradient of their input (the gradient
    /// checks read it; training does not need it). `kernels` decides the layers' kernels
    /// and the activations' storage layout (the reference kernels for any element type
    /// but Float).
    public init(partition: Partition, rank: Int, inputGradient: Bool = false, kernels: Kernels = .preferred) throws {
        let model = partition.model
        let f = model.ops.count
        self.rank = rank
        self.ranks = partition.ranks
        self.kernels = kernels
        self.stepCount = 2 * f + 1
        var builder = PlanBuilder(partition: partition, rank: rank, kernels: kernels)
        builder.inputGradient = inputGradient
        try builder.build()
        buffers = builder.buffers
        parameters = builder.parameters
        steps = builder.steps
    }
}

/// Walks the model once forward, wiring buffers and exchanges, then once backward.
struct PlanBuilder {
    let partition: Partition
    let rank: Int
    let model: Model
    let f: Int
    var buffers: [ExecutionPlan.Buffer] = []
    var parameters: [ExecutionPlan.Parameter] = []
    var steps: [ExecutionPlan.Step] = []
    /// Per tensor: its producer's op index and its value buffer (nil for data).
    var producer: [String: (op: Int, buffer: Int?)] = [:]
    /// Per tensor with a gradient: its gradient buffer over the producer's write rect.
    var gradient: [String: Int] = [:]
    /// The forward partition of every op, by model index.
    let forward: [OpPartition]
    let backwardOps: Set<String>
    var inputGradient = false
    /// Ops whose backward reads their output (see `settleOutputRead`).
    var outputReaders: [Int] = []
    let kernels: ExecutionPlan.Kernels
    /// Per tensor, the layout its producer stores it in (data: NCHW).
    var storedLayout: [String: ActivationLayout] = [:]

    init(partition: Partition, rank: Int, kernels: ExecutionPlan.Kernels) {
        self.kernels = kernels
        self.partition = partition
        self.rank = rank
        self.model = partition.model
        self.f = model.ops.count
        var byName: [String: OpPartition] = [:]
        for o in partition.ops where o.phase == .forward { byName[o.name] = byName[o.name] ?? o }
        self.forward = model.ops.map { op in
            guard let o = byName[op.name] else { preconditionFailure("partition has no forward op \(op.name)") }
            return o
        }
        self.backwardOps = Set(partition.ops.filter { $0.phase == .backward }.compactMap(\.forwardOp))
    }

    func backwardStep(_ i: Int) -> Int { 2 * f - 1 - i }

    mutating func add(_ name: String, _ kind: ExecutionPlan.Buffer.Kind, _ region: Rect, at step: Int,
                      layout: ActivationLayout = .nchw) -> Int {
        buffers.append(.init(name: name, kind: kind, region: region, count: layout.storedCount(region),
                             layout: layout, lifetime: step...step))
        return buffers.count - 1
    }

    mutating func use(_ buffer: Int?, at step: Int) {
        guard let b = buffer else { return }
        let l = buffers[b].lifetime
        buffers[b].lifetime = min(l.lowerBound, step)...max(l.upperBound, step)
        if let base = buffers[b].alias?.of { use(base, at: step) }
    }

    func rects(_ access: OpPartition.Access?) -> [Rect] {
        access?.rects ?? Array(repeating: Rect.empty(dimensions: 4), count: partition.ranks)
    }

    func hasGradient(_ tensor: String) -> Bool {
        guard partition.hasTensor("\(tensor).grad") else { return false }
        return partition.tensor("\(tensor).grad").write.contains { $0.map { !$0.isEmpty } ?? false }
    }

    /// Masks the writers of a sum: replicas (non-primary ranks of `op`) write nothing.
    func primaryOnly(_ rects: [Rect], of op: Op) -> [Rect?] {
        rects.enumerated().map { op.isPrimary(rank: $0.offset) ? $0.element : nil }
    }

    /// The redistribution from `writes` to `reads` of a tensor stored in `layout`: rects
    /// as given for NCHW, 5-D `[N, C/b, H, W, b]` boxes for a blocked layout.
    mutating func exchange(
        tensor: String, shape: [Int], writes: [Rect?], reads: [Rect], mode: RedistributionMode,
        from: Int, into: Int, zeroFirst: Bool, layout: ActivationLayout = .nchw
    ) -> ExecutionPlan.Exchange {
        let c = shape.count == 4 ? shape[1] : 0
        let s = layout.storageShape(shape)
        let w = writes.map { $0.map { layout.storageRect($0, channels: c) } }
        let r = reads.map { layout.storageRect($0, channels: c) }
        return ExecutionPlan.Exchange(
            tensor: tensor, source: TensorLayout(shape: s, write: w, read: w),
            target: TensorLayout(shape: s, write: r, read: r), mode: mode, from: from, into: into,
            sourceRect: w[rank] ?? Rect.empty(dimensions: s.count), targetRect: r[rank],
            block: writes[rank] ?? Rect.empty(dimensions: shape.count), zeroFirst: zeroFirst)
    }

    mutating func build() throws {
        for (i, op) in model.ops.enumerated() where i > 0 { try addForward(i, op) }
        for i in outputReaders where steps[i - 1].hasBackward { settleOutputRead(i) }
        for i in stride(from: f - 1, through: 1, by: -1) where steps[i - 1].hasBackward { addBackward(i) }
    }
}
