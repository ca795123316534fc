import Geometry

extension MemoryPlan {
    /// Plans every rank of `partition`: each rank's arena is its `ExecutionPlan`'s buffers
    /// (what the training runtime allocates: activations where they are written and where
    /// they are read, gradients, input gradients, kernel workspaces), placed by lifetime.
    /// Pure computation, no MPI: a rank calls it and takes `rankPlans[rank]`, or a report
    /// takes them all. Throws when a layer does not fit its shard (naming the op).
    public init(partition: Partition, options: PlanOptions = .init()) throws {
        self.partition = partition
        self.options = options
        let scheduled = partition.ops.filter { $0.phase == .forward || $0.phase == .backward }
        self.steps = scheduled.map { PlanStep(name: $0.name, phase: $0.phase) }
        let slots = Self.slots(partition: partition, scheduled: scheduled)
        var memo: [[Int]: ArenaAssignment] = [:]
        var plans: [RankPlan] = []
        for r in 0..<partition.ranks {
            let execution = try ExecutionPlan(partition: partition, rank: r, kernels: options.kernels)
            plans.append(Self.plan(execution, partition: partition, slots: slots, options: options, memo: &memo))
        }
        self.rankPlans = plans
    }

    /// The plan of one rank from its execution plan: the report `train` prints and
    /// checks against the machine's memory before allocating.
    public static func plan(_ execution: ExecutionPlan, partition: Partition, options: PlanOptions) -> RankPlan {
        let scheduled = partition.ops.filter { $0.phase == .forward || $0.phase == .backward }
        var memo: [[Int]: ArenaAssignment] = [:]
        return plan(execution, partition: partition, slots: slots(partition: partition, scheduled: scheduled),
                    options: options, memo: &memo)
    }

    /// For each of the execution plan's time steps (data 0, forward op i at i, its
    /// backward at 2F - 1 - i), the index of the same op in the schedule `steps`.
    static func slots(partition: Partition, scheduled: [OpPartition]) -> [Int] {
        let ops = partition.model.ops, f = ops.count
        var index: [String: Int] = [:]
        for (k, o) in scheduled.enumerated() where index["\(o.phase)|\(o.name)"] == nil { index["\(o.phase)|\(o.name)"] = k }
        var slots = [Int](repeating: 0, count: 2 * f + 1)
        var last = 0
        for t in 0...(2 * f) {
            let key: String
            if t < f { key = "forward|\(ops[t].name)" } else if t < 2 * f { key = "backward|\(ops[2 * f - 1 - t].name).grad" } else { key = "" }
            last = max(last, index[key] ?? last)
            slots[t] = last
        }
        return slots
    }

    static func role(_ kind: ExecutionPlan.Buffer.Kind) -> TensorPartition.Role {
        switch kind {
        case .activation: return .activation
        case .input: return .input
        case .gradient, .inputGradient: return .gradient
        case .workspace: return .workspace
        }
    }

    static func plan(
        _ execution: ExecutionPlan, partition: Partition, slots: [Int], options: PlanOptions,
        memo: inout [[Int]: ArenaAssignment]
    ) -> RankPlan {
        let r = execution.rank
        let element = 4
        // The tensors this rank stores any of (the report's per-tensor columns).
        var shards: [TensorShard] = []
        for t in partition.tensors {
            guard let region = t.storage(rank: r), !region.isEmpty else { continue }
            shards.append(TensorShard(tensor: t.name, role: t.role, region: region, bytes: element * region.volume))
        }
        // Aliases (views of another buffer's interior, `ExecutionPlan.Alias`) allocate nothing.
        let arena = execution.buffers.filter { $0.alias == nil }.map { b in
            (shard: TensorShard(tensor: b.name, role: role(b.kind), region: b.region, bytes: element * b.count),
             lifetime: slots[b.lifetime.lowerBound]...slots[b.lifetime.upperBound])
        }
        let align = options.alignment
        let requests = arena.map { ArenaRequest(size: ($0.shard.bytes + align - 1) / align * align, lifetime: $0.lifetime) }
        // Ranks with the same buffers (every rank of a batch split) share one assignment.
        let key = requests.flatMap { [$0.size, $0.lifetime.lowerBound, $0.lifetime.upperBound] }
        let assignment = memo[key] ?? ArenaAllocator.assign(requests, strategy: options.strategy)
        memo[key] = assignment
        let exact = arena.map { ArenaRequest(size: $0.shard.bytes, lifetime: $0.lifetime) }
        func sum(_ roles: Set<TensorPartition.Role>) -> Int {
            shards.filter { roles.contains($0.role) }.reduce(0) { $0 + $1.bytes }
        }
        let parameters = execution.parameterCount * element
        return RankPlan(
            rank: r, shards: shards,
            buffers: arena.indices.map {
                PlannedBuffer(shard: arena[$0].shard, lifetime: arena[$0].lifetime, offset: assignment.offsets[$0])
            },
            arenaBytes: assignment.size, lowerBound: ArenaAllocator.lowerBound(exact),
            liveBytes: ArenaAllocator.liveBytes(exact), strategy: assignment.strategy,
            parameterBytes: parameters, parameterGradientBytes: parameters,
            optimizerStateBytes: parameters * options.optimizer.statesPerParameter,
            activationBytes: sum([.activation, .input, .result]), activationGradientBytes: sum([.gradient]),
            stateBytes: execution.stateCount * element + execution.indexCount * 4,
            scratchBytes: execution.exchangeScratchCount * element
                + min(execution.parameters.filter(\.replicated).reduce(0) { $0 + $1.rect.volume } * element,
                      options.allreduceInFlightBytes))
    }
}
