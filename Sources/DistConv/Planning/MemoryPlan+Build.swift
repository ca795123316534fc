import Geometry

extension MemoryPlan {
    /// Plans every rank of `partition`. Pure computation, no MPI: a rank calls it and
    /// takes `rankPlans[rank]`, or a report takes them all.
    public init(partition: Partition, options: PlanOptions = .init()) {
        self.partition = partition
        self.options = options
        let scheduled = partition.ops.filter { $0.phase == .forward || $0.phase == .backward }
        self.steps = scheduled.map { PlanStep(name: $0.name, phase: $0.phase) }
        let lifetimes = Self.lifetimes(partition: partition, scheduled: scheduled)

        var memo: [[Int]: ArenaAssignment] = [:]
        var plans: [RankPlan] = []
        for r in 0..<partition.ranks {
            plans.append(Self.plan(rank: r, partition: partition, lifetimes: lifetimes, options: options, memo: &memo))
        }
        self.rankPlans = plans
    }

    static func isArenaRole(_ role: TensorPartition.Role) -> Bool {
        switch role {
        case .activation, .input, .result, .gradient: return true
        case .parameter, .parameterGradient: return false
        }
    }

    /// Per tensor, the steps from its first to its last access on any rank.
    static func lifetimes(partition: Partition, scheduled: [OpPartition]) -> [String: ClosedRange<Int>] {
        var result: [String: ClosedRange<Int>] = [:]
        for (k, op) in scheduled.enumerated() {
            for access in op.reads + op.writes where access.rects.contains(where: { !$0.isEmpty }) {
                let old = result[access.tensor]
                result[access.tensor] = min(old?.lowerBound ?? k, k)...max(old?.upperBound ?? k, k)
            }
        }
        let end = max(scheduled.count - 1, 0)
        for t in partition.tensors {
            if t.role == .result, let l = result[t.name] { result[t.name] = l.lowerBound...end }
        }
        return result
    }

    static func plan(
        rank r: Int, partition: Partition, lifetimes: [String: ClosedRange<Int>], options: PlanOptions,
        memo: inout [[Int]: ArenaAssignment]
    ) -> RankPlan {
        var shards: [TensorShard] = []
        var arena: [(shard: TensorShard, lifetime: ClosedRange<Int>, index: Int)] = []
        let end = max(lifetimes.values.map(\.upperBound).max() ?? 0, 0)
        for (i, t) in partition.tensors.enumerated() {
            guard let region = t.storage(rank: r), !region.isEmpty else { continue }
            let shard = TensorShard(tensor: t.name, role: t.role, region: region, bytes: 4 * region.volume)
            shards.append(shard)
            if isArenaRole(t.role) {
                // A buffer no scheduled op touches is kept for the whole step (safe).
                arena.append((shard, lifetimes[t.name] ?? 0...end, i))
            }
        }
        let align = options.alignment
        let requests = arena.map {
            ArenaRequest(size: ($0.shard.bytes + align - 1) / align * align, lifetime: $0.lifetime)
        }
        // Ranks with the same buffers (every rank of a batch split) share one assignment.
        let key = arena.flatMap { [$0.index, $0.shard.bytes] }
        let assignment = memo[key] ?? ArenaAllocator.assign(requests, strategy: options.strategy)
        memo[key] = assignment
        let exact = arena.map { ArenaRequest(size: $0.shard.bytes, lifetime: $0.lifetime) }

        func sum(_ roles: Set<TensorPartition.Role>) -> Int {
            shards.filter { roles.contains($0.role) }.reduce(0) { $0 + $1.bytes }
        }
        let parameters = sum([.parameter])
        return RankPlan(
            rank: r, shards: shards,
            buffers: arena.indices.map {
                PlannedBuffer(shard: arena[$0].shard, lifetime: arena[$0].lifetime, offset: assignment.offsets[$0])
            },
            arenaBytes: assignment.size, lowerBound: ArenaAllocator.lowerBound(exact),
            liveBytes: ArenaAllocator.liveBytes(exact), strategy: assignment.strategy,
            parameterBytes: parameters, parameterGradientBytes: sum([.parameterGradient]),
            optimizerStateBytes: parameters * options.optimizer.statesPerParameter,
            activationBytes: sum([.activation, .input, .result]), activationGradientBytes: sum([.gradient]))
    }
}
