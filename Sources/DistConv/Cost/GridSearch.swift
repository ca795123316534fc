import Geometry

/// Chooses every op's grid for the least predicted step time that fits a memory limit.
///
/// Candidates per op are the grids `GridPolicy` chooses among, `[n, 1, a, b]` with
/// `n * a * b == R` that the op's tensor allows (batch-only ops: `a = b = 1`), keeping
/// the spatial splits no more oblong than 4:1 (the squarest always). An op no grid of R
/// ranks fits takes the policies' replicated grids.
///
/// Models are chains, so a dynamic program over (op, grid) finds the cheapest sequence:
/// an op's own cost on a grid (compute, allreduce share, data) comes from the cost model
/// on the model with every op on that grid (where it fits), and the cost of going from
/// the producer's grid to the op's is its input's redistribution: on the same grid the
/// halo the cost model priced in that run; between grids the bytes each representative
/// rank receives from every writer (`transition`), forward and back. The sequence found
/// is then priced exactly (`StepCostModel.estimate` on its partition) beside the three
/// fixed policies, and the cheapest that fits wins (so auto is never predicted slower
/// than a fixed policy).
///
/// Memory: the peak per rank comes from the real `MemoryPlan` of the representative
/// ranks. When the best sequence does not fit, candidates whose largest activation
/// shard (input or output block, bytes) exceeds half of the largest one chosen are
/// dropped (each op keeps its smallest) and the search runs again, until it fits or no
/// candidate is left to drop. Deterministic: ties go to the first candidate (fewest
/// batch parts, then most rows).
public struct GridSearch: Sendable {
    public var cost: StepCostModel
    /// Bytes per rank the step may use; nil for no limit.
    public var memoryLimit: Int?

    public init(cost: StepCostModel, memoryLimit: Int? = nil) {
        self.cost = cost
        self.memoryLimit = memoryLimit
    }

    /// One priced choice of grids.
    public struct Choice: Sendable {
        /// The policy's name (`batch`, `spatial`, `hybrid`, `auto`).
        public var name: String
        public var model: Model
        public var estimate: StepEstimate
    }

    public struct Result: Sendable {
        /// The chosen grids.
        public var best: Choice
        /// The three fixed policies, priced (those that partition).
        public var policies: [Choice]
    }

    public enum SearchError: Error, Equatable {
        /// No grid sequence fits `limit`; the smallest peak any reached.
        case noFit(limit: Int, smallestPeak: Int)
    }

    /// Prices the fixed policies and searches; throws `SearchError.noFit` when nothing
    /// fits the limit.
    public func search(_ model: Model, ranks: Int) throws -> Result {
        var policies: [Choice] = []
        for p in GridPolicy.allCases {
            guard let m = try? p.apply(to: model, ranks: ranks), let partition = try? Partition(model: m, ranks: ranks)
            else { continue }
            policies.append(Choice(name: p.rawValue, model: m, estimate: try cost.estimate(partition)))
        }
        var current = try Self.candidates(model, ranks: ranks)
        var tried = policies
        while true {
            let chosen = try dynamicProgram(model, ranks: ranks, candidates: current)
            let estimate = try cost.estimate(try Partition(model: chosen, ranks: ranks))
            tried.append(Choice(name: "auto", model: chosen, estimate: estimate))
            if fits(estimate) { break }
            let cap = (1..<model.ops.count).map { Self.shardBytes(model.ops[$0], chosen.ops[$0].grid) }.max() ?? 0
            let next = current.enumerated().map { i, c -> [[Int]] in
                guard i > 0 else { return c }
                let bytes = c.map { Self.shardBytes(model.ops[i], $0) }
                let kept = zip(c, bytes).filter { $0.1 <= cap / 2 }.map(\.0)
                return kept.isEmpty ? [c[bytes.firstIndex(of: bytes.min()!)!]] : kept
            }
            if next.elementsEqual(current, by: ==) { break }
            current = next
        }
        let fitting = tried.filter { fits($0.estimate) }
        guard var best = fitting.min(by: { $0.estimate.seconds < $1.estimate.seconds }) else {
            let smallest = tried.map(\.estimate.peakBytesPerRank).min() ?? 0
            throw SearchError.noFit(limit: memoryLimit ?? 0, smallestPeak: smallest)
        }
        best.name = "auto"
        return Result(best: best, policies: policies)
    }

    func fits(_ e: StepEstimate) -> Bool { memoryLimit.map { e.peakBytesPerRank <= $0 } ?? true }

    /// Bytes of the largest activation block (input or output) the op holds per rank on
    /// `grid`, Float.
    static func shardBytes(_ op: Op, _ grid: [Int]) -> Int {
        func block(_ shape: [Int]) -> Int {
            guard shape.count == 4 else { return shape.reduce(1, *) }
            return zip(shape, grid).reduce(1) { $0 * (($1.0 + $1.1 - 1) / $1.1) }
        }
        return 4 * max(block(op.inputShape.count == 4 ? op.inputShape : op.outputShape), block(op.outputShape))
    }

    /// Per op, its candidate grids (the data op: the spatial policy's, which decides
    /// nothing the loader does).
    public static func candidates(_ model: Model, ranks: Int) throws -> [[[Int]]] {
        try model.ops.enumerated().map { i, op in
            if i == 0 { return [try GridPolicy.spatial.grid(for: op, ranks: ranks, source: model.source)] }
            let shape = op.partitionedShape
            let batchOnly = op.splittableDimensions != nil
            var out: [[Int]] = []
            for n in ShapeInference.divisors(ranks) where n <= shape[0] {
                let rest = ranks / n
                let splits = ShapeInference.divisors(rest).map { [$0, rest / $0] }
                    .filter { $0[0] <= shape[2] && $0[1] <= shape[3] && (!batchOnly || rest == 1) }
                guard !splits.isEmpty else { continue }
                let square = splits.min { (abs($0[0] - $0[1]), -$0[0]) < (abs($1[0] - $1[1]), -$1[0]) }!
                let kept = splits.filter { max($0[0], $0[1]) <= 4 * min($0[0], $0[1]) }
                for s in (kept.isEmpty ? [square] : kept).sorted(by: { $0[0] > $1[0] }) { out.append([n, 1, s[0], s[1]]) }
            }
            if out.isEmpty {
                for p in GridPolicy.allCases {
                    let g = try p.grid(for: op, ranks: ranks, source: model.source)
                    if !out.contains(g) { out.append(g) }
                }
            }
            return out
        }
    }

    /// What the search learns of one grid from the model with every op on it.
    struct Uniform {
        var partition: Partition
        var reps: [Int]
        /// Per op index: compute + allreduce + data, and the halo into it, on the slowest
        /// representative; nil where the op is not on this grid.
        var node: [Double?]
        var halo: [Double?]
    }

    func dynamicProgram(_ model: Model, ranks: Int, candidates: [[[Int]]]) throws -> Model {
        let f = model.ops.count
        var grids: [[Int]] = []
        for c in candidates.dropFirst() { for g in c where !grids.contains(g) { grids.append(g) } }
        var uniform: [[Int]: Uniform] = [:]
        for g in grids {
            var m = model
            for i in 1..<f { m.ops[i].grid = candidates[i].contains(g) ? g : candidates[i][0] }
            m.ops[0].grid = candidates[0][0]
            guard let partition = try? Partition(model: m, ranks: ranks) else { continue }
            let reps = StepCostModel.ranks(for: m, ranks: ranks)
            var node = [Double?](repeating: nil, count: f), halo = [Double?](repeating: nil, count: f)
            for r in reps {
                guard let plan = try? ExecutionPlan(partition: partition, rank: r, kernels: cost.kernels) else { continue }
                let e = cost.estimate(plan, partition: partition)
                for (k, s) in plan.steps.enumerated() where m.ops[s.index].grid == g {
                    let o = e.ops[k]
                    node[s.index] = max(node[s.index] ?? 0, o.compute + o.allreduce + o.data)
                    halo[s.index] = max(halo[s.index] ?? 0, o.halo)
                }
            }
            uniform[g] = Uniform(partition: partition, reps: reps, node: node, halo: halo)
        }
        // best[i][k]: the least cost of ops 1...i with op i on candidates[i][k].
        var best: [[Double]] = Array(repeating: [], count: f)
        var from: [[Int]] = Array(repeating: [], count: f)
        for i in 1..<f {
            best[i] = Array(repeating: .infinity, count: candidates[i].count)
            from[i] = Array(repeating: 0, count: candidates[i].count)
            for (k, g) in candidates[i].enumerated() {
                guard let u = uniform[g], let node = u.node[i] else { continue }
                if i == 1 {
                    best[i][k] = node + (u.halo[i] ?? 0)
                    continue
                }
                for (j, gp) in candidates[i - 1].enumerated() where best[i - 1][j].isFinite {
                    let t = gp == g ? (u.halo[i] ?? 0) : transition(model, i, from: uniform[gp], to: u)
                    let total = best[i - 1][j] + t + node
                    if total < best[i][k] {
                        best[i][k] = total
                        from[i][k] = j
                    }
                }
            }
        }
        guard f > 1, var k = best[f - 1].indices.min(by: { best[f - 1][$0] < best[f - 1][$1] }),
              best[f - 1][k].isFinite
        else { throw ModelError(file: model.source, field: "grid", "no grid sequence partitions \(model.name) on \(ranks) ranks") }
        var result = model
        result.ops[0].grid = candidates[0][0]
        for i in stride(from: f - 1, through: 1, by: -1) {
            result.ops[i].grid = candidates[i][k]
            k = from[i][k]
        }
        return result
    }

    /// Op `i`'s input moved from its producer's layout on one grid to the op's reads on
    /// another: on each representative reader, the bytes from every writer (each a
    /// message, packed and unpacked) and its own part copied; twice when a gradient goes
    /// back the same way.
    func transition(_ model: Model, _ i: Int, from source: Uniform?, to target: Uniform) -> Double {
        guard let source, let input = model.ops[i].input else { return 0 }
        let producer = model.ops.firstIndex { $0.outputs.contains(input) } ?? 0
        let tensor = source.partition.tensor(input)
        let primaries = source.partition.model.ops[producer].gridRanks
        let writes = tensor.write
        guard let reads = target.partition.ops.first(where: { $0.name == model.ops[i].name && $0.phase == .forward })?
            .distInput else { return 0 }
        let es = cost.elementSize
        var worst = 0.0
        for r in target.reps {
            let read = reads[r]
            if read.isEmpty { continue }
            let own = writes[r]
            var seconds = 0.0
            if let own { seconds += cost.rates.copy.seconds(bytes: Self.overlap(read, own) * es) }
            for q in 0..<min(primaries, writes.count) {
                guard let w = writes[q], w != own else { continue }
                let v = Self.overlap(read, w) * es
                guard v > 0 else { continue }
                seconds += cost.link(r, q).seconds(bytes: v) + 2 * cost.rates.copy.seconds(bytes: v)
            }
            worst = max(worst, seconds)
        }
        let backward = producer > 0 && model.ops[i].isDifferentiable
        return backward ? 2 * worst : worst
    }

    /// Elements two rects share, without building the intersection.
    static func overlap(_ a: Rect, _ b: Rect) -> Int {
        var v = 1
        for d in 0..<a.origin.count {
            let lo = max(a.origin[d], b.origin[d]), hi = min(a.origin[d] + a.size[d], b.origin[d] + b.size[d])
            if hi <= lo { return 0 }
            v *= hi - lo
        }
        return v
    }
}
