import Comm
import Foundation
import Geometry
import Kernels

/// One rank's part of a model, ready to train: the execution plan bound to memory (one
/// arena for activations, gradients and workspaces, at the plan's offsets), parameter
/// shards with their gradients and optimizer state, the layers, and one redistribution
/// per exchange of the plan (built once, reused every step).
///
/// Every rank builds its network from the same partition and runs the same passes in
/// the same order: the passes are collective.
public final class Network<T: RuntimeScalar> {
    public let partition: Partition
    public let plan: ExecutionPlan
    public let communicator: Communicator
    /// Bytes of the arena (all activation, gradient and workspace buffers).
    public let arenaBytes: Int
    let arena: UnsafeMutableRawPointer
    let buffers: [UnsafeMutableBufferPointer<T>]
    /// Per step of the plan: its layer's buffers, forward and backward (they differ in
    /// the workspace, which lives for one pass).
    var io: [LayerIO<T>] = []
    var backwardIO: [LayerIO<T>] = []
    var inputExchanges: [Redistribution?] = []
    var gradientExchanges: [Redistribution?] = []
    var outputRecoveries: [Redistribution?] = []
    /// Per step, the reorders of its input (forward) and input gradient (backward).
    var inputReorders: [ActivationReorder?] = []
    var gradientReorders: [ActivationReorder?] = []
    /// Per step whose layer overlaps its forward with the input's halo, the output strips
    /// to compute once it is in (`OverlappingLayer`).
    var overlapStrips: [[(rows: Range<Int>, cols: Range<Int>)]?] = []
    var reducers: [BatchNormReducer] = []
    /// Per non-replicated parameter, the accumulate redistribution summing its gradient
    /// over the ranks holding each part (nil where no two ranks share a part).
    var shardedReductions: [Redistribution?] = []
    /// Parameter values, gradients and optimizer state, per parameter of the plan.
    public internal(set) var parameters: [ParameterShard<T>] = []
    /// Replicated parameters' gradients, one slab in backward order, allreduced in buckets.
    let gradientSlab: UnsafeMutableBufferPointer<T>
    var buckets: [GradientBucket] = []
    let requests = RequestSet(capacity: 16)
    /// Everything allocated outside the arena, freed with the network.
    var persistent: [UnsafeMutableRawPointer] = []
    public var timer = StepTimer()
    /// Called after each op's forward (false) and backward (true) when set: the
    /// non-finite search (`locateNonFinite`).
    var afterOp: ((_ step: Int, _ backward: Bool) -> Void)?
    /// Convolutions fed by a halo exchange compute their interior while it is in flight
    /// (`--no-overlap` turns it off; the results are the same bits).
    public var overlap = true
    /// Gradient buckets whose allreduce may be in flight at once (see `startBucket`).
    public static var bucketsInFlight: Int { 4 }
    /// Elements per gradient bucket.
    public let bucketElements: Int
    public let seed: UInt64

    /// Builds this rank's network and initialises its parameters from `seed`.
    ///
    /// - Parameters:
    ///   - reuseMemory: place buffers by the plan's lifetimes (false gives every buffer
    ///     its own memory: a check that the lifetimes are right).
    ///   - bucketBytes: size of the gradient allreduce buckets.
    public init(partition: Partition, plan: ExecutionPlan, communicator: Communicator, seed: UInt64,
                optimizerStates: Int, reuseMemory: Bool = true, bucketBytes: Int = 2 << 20) {
        precondition(plan.rank == communicator.rank && plan.ranks == communicator.size,
                     "plan of rank \(plan.rank)/\(plan.ranks) on communicator rank \(communicator.rank)/\(communicator.size)")
        precondition(plan.kernels == .reference || T.self == Float.self,
                     "a plan for oneDNN's kernels (\(plan.kernels)) in a network of \(T.self); build it with kernels: .reference")
        self.partition = partition
        self.plan = plan
        self.communicator = communicator
        self.seed = seed
        bucketElements = max(1, bucketBytes / MemoryLayout<T>.stride)
        let requests = plan.arenaRequests(elementSize: MemoryLayout<T>.stride)
        let offsets: [Int]
        if reuseMemory {
            let assignment = ArenaAllocator.assign(requests)
            offsets = assignment.offsets
            arenaBytes = assignment.size
        } else {
            var at = 0
            offsets = requests.map { r in defer { at += r.size }; return at }
            arenaBytes = at
        }
        arena = .allocate(byteCount: max(arenaBytes, 64), alignment: 64)
        let base = arena.bindMemory(to: T.self, capacity: max(arenaBytes, 64) / MemoryLayout<T>.stride)
        // An alias is a view of its base's memory (`ExecutionPlan.Alias`).
        buffers = plan.buffers.enumerated().map { k, b in
            let owner = b.alias?.of ?? k
            let start = base + offsets[owner] / MemoryLayout<T>.stride + (b.alias?.offset ?? 0)
            return UnsafeMutableBufferPointer(start: start, count: b.alias?.runs?.span ?? b.count)
        }

        // Replicated parameters' gradients in the order backward completes them.
        let replicated = plan.parameters.indices.filter { plan.parameters[$0].replicated }
            .sorted { plan.parameters[$0].op > plan.parameters[$1].op }
        let slabCount = replicated.reduce(0) { $0 + plan.parameters[$1].rect.volume }
        gradientSlab = Self.allocate(slabCount)
        if let base = gradientSlab.baseAddress { persistent.append(UnsafeMutableRawPointer(base)) }
        var slabOffset: [Int: Int] = [:]
        var at = 0
        for k in replicated {
            slabOffset[k] = at
            at += plan.parameters[k].rect.volume
        }
        for (k, p) in plan.parameters.enumerated() {
            let n = p.rect.volume
            let gradient = slabOffset[k].map { UnsafeMutableBufferPointer(rebasing: gradientSlab[$0..<($0 + n)]) }
                ?? track(Self.allocate(n))
            parameters.append(ParameterShard(
                spec: p, value: track(Self.allocate(n)), gradient: gradient,
                state: (0..<optimizerStates).map { _ in track(Self.allocate(n)) }))
        }
        buckets = GradientBucket.make(
            parameters: replicated.map { ($0, plan.parameters[$0].op, slabOffset[$0] ?? 0, plan.parameters[$0].rect.volume) },
            bucketElements: bucketElements)
        bindSteps()
        initializeParameters()
    }

    deinit {
        arena.deallocate()
        for p in persistent { p.deallocate() }
    }

    /// Zeroed memory for `count` elements, 64-byte aligned; freed with the network once tracked.
    static func allocate<U>(_ count: Int) -> UnsafeMutableBufferPointer<U> {
        let bytes = max(count, 1) * MemoryLayout<U>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: U.self, capacity: max(count, 1)), count: count)
    }

    func track<U>(_ buffer: UnsafeMutableBufferPointer<U>) -> UnsafeMutableBufferPointer<U> {
        if let base = buffer.baseAddress { persistent.append(UnsafeMutableRawPointer(base)) }
        return buffer
    }

    func view(_ index: Int?) -> UnsafeMutableBufferPointer<T>? { index.map { buffers[$0] } }

    private func bindSteps() {
        var tag = 100
        for s in plan.steps {
            let none = UnsafeMutableBufferPointer<T>(start: nil, count: 0)
            var gradients = s.parameters.map { parameters[$0].gradient }
            if !s.isPrimary {
                // A replica computes what its primary does; its parameter gradients go to
                // scratch so that sums over ranks count each block once.
                gradients = gradients.map { track(Self.allocate($0.count)) }
            }
            let state: UnsafeMutableBufferPointer<T> = track(Self.allocate(s.layer.stateCount))
            var kernels: AnyObject?
            if plan.kernels != .reference {
                do {
                    kernels = try s.layer.makeKernels()
                } catch {
                    preconditionFailure("\(s.op.name) on rank \(plan.rank): \(error)")
                }
            }
            if let bn = s.layer as? BatchNormalizationLayer { bn.initializeState(state) }
            io.append(LayerIO(
                x: view(s.x) ?? none, y: view(s.y) ?? none, dx: view(s.dx), dy: view(s.dy), extra: view(s.extra),
                parameters: s.parameters.map { parameters[$0].value }, gradients: gradients,
                workspace: view(s.forwardWorkspace) ?? none, state: state,
                indices: track(Self.allocate(s.layer.indexCount)),
                labels: track(Self.allocate(s.regions.labels?.count ?? 0)), kernels: kernels,
                yRuns: s.y.flatMap { plan.buffers[$0].alias?.runs }, dyRuns: s.dy.flatMap { plan.buffers[$0].alias?.runs }))
            var back = io[io.count - 1]
            back.workspace = view(s.backwardWorkspace) ?? none
            if let e = s.outputRecovery { back.y = buffers[e.into] }
            backwardIO.append(back)
            inputExchanges.append(s.inputExchange.map { redistribution($0, tag: &tag) })
            gradientExchanges.append(s.gradientExchange.map { redistribution($0, tag: &tag) })
            outputRecoveries.append(s.outputRecovery.map { redistribution($0, tag: &tag) })
            inputReorders.append(s.inputReorder.map(Self.reorder))
            if let layer = s.layer as? any OverlappingLayer, let e = s.inputExchange, e.mode == .copy, let kernels,
               let strips = layer.overlapStrips(own: e.block), layer.stripsKeepTheBits(strips, kernels: kernels) {
                overlapStrips.append(strips)
            } else {
                overlapStrips.append(nil)
            }
            gradientReorders.append(s.gradientReorder.map(Self.reorder))
        }
        reducers = plan.steps.indices.map { makeReducer($0) }
        for p in plan.parameters {
            guard !p.replicated else { shardedReductions.append(nil); continue }
            let writes = zip(p.rects, p.contributes).map { $1 ? $0 : nil }
            let layout = TensorLayout(shape: p.shape, write: writes, read: p.rects)
            tag += 1
            let r = Redistribution(from: layout, to: layout, mode: .accumulate, communicator: communicator,
                                   sourceStorage: p.rect, targetStorage: p.rect, tag: tag)
            shardedReductions.append(r.plan.sends.isEmpty && r.plan.receives.isEmpty ? nil : r)
        }
    }

    private static func reorder(_ r: ExecutionPlan.Reorder) -> ActivationReorder {
        ActivationReorder.cached(n: r.rect.size[0], c: r.rect.size[1], h: r.rect.size[2], w: r.rect.size[3],
                                 from: r.fromLayout, to: r.intoLayout)
    }

    private func redistribution(_ e: ExecutionPlan.Exchange, tag: inout Int) -> Redistribution {
        tag += 1
        return Redistribution(from: e.source, to: e.target, mode: e.mode, communicator: communicator,
                              sourceStorage: e.sourceRect, targetStorage: e.targetRect, tag: tag)
    }

    /// PyTorch's default initialisation of every parameter, a function of (seed, name,
    /// global index): the same values whatever the rank count.
    func initializeParameters() {
        for s in plan.steps {
            for (k, p) in s.parameters.enumerated() {
                let shard = parameters[p]
                s.layer.initialize(parameter: k, shape: shard.spec.shape, rect: shard.spec.rect,
                                   seed: parameterSeed(seed, name: shard.spec.name), values: shard.value)
            }
        }
    }

    /// Per op reading the data set, its input rect and the gradient of the loss with
    /// respect to it (with `inputGradient` plans; empty buffers otherwise). The input's
    /// gradient is the sum of these over ops and primary ranks.
    public func inputGradients() -> [(rect: Rect, primary: Bool, values: UnsafeMutableBufferPointer<T>)] {
        plan.steps.enumerated().compactMap { k, s in
            guard s.loadsData, let dx = view(s.dx) else { return nil }
            return (s.regions.input, s.isPrimary, dx)
        }
    }

    /// The shard of the named parameter on this rank.
    public func parameter(named name: String) -> ParameterShard<T>? { parameters.first { $0.spec.name == name } }
}

/// One parameter's shard on this rank: value, gradient and optimizer state, over
/// `spec.rect` of the global parameter.
public struct ParameterShard<T: RuntimeScalar> {
    public let spec: ExecutionPlan.Parameter
    public let value: UnsafeMutableBufferPointer<T>
    public let gradient: UnsafeMutableBufferPointer<T>
    public let state: [UnsafeMutableBufferPointer<T>]
}
