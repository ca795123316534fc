import Geometry

/// Chooses every op's grid for the least predicted step time that fits a memory limit.
///
/// Candidates per op are the grids `GridPolicy` chooses among, `[n, 1, a, b]` with
/// `n * a * b == R` that the op's tensor allows (batch-only ops: `a = b = 1`), keeping
/// the spatial splits no more oblong than 4:1 (the squarest always). An op no grid of R
/// ranks fits takes the policies' replicated grids.
///
/// Models are chains, so a dynamic program over (op, grid) finds the cheapest sequence:
/// an op's own cost on a grid (compute, allreduce share, data) comes from the model with
/// every op on that grid (where it fits), priced from its partition's rects on the grid's
/// representative ranks, and the cost of going from the producer's grid to the op's is
/// its input's redistribution, halo or layout change: the bytes each representative
/// rank receives from every writer (`transition`), forward and back. The sequence found
/// is then priced exactly (`StepCostModel.estimate` on its partition) beside the three
/// fixed policies, and the cheapest that fits wins (so auto is never predicted slower
/// than a fixed policy) — but mixed grids must beat the best fixed policy that fits by
/// `minimumGain` to be chosen. Each grid change adds a point where ranks wait for each
/// other, which the model prices only as the profile's constant `synchronisation` (on
/// this project's shared 2-core VM training showed 0.2–0.7 ms each in a 12 ms step, where
/// calibrate measured 56–84 µs), and a prediction a few percent ahead is inside the
/// calibration's own spread: such a gain is not one the runs would show.
///
/// Memory: the peak per rank comes from the real `MemoryPlan` (`StepCostModel.estimate`:
/// rank 0 and the slowest rank). When the best sequence does not fit, candidates whose largest activation
/// shard (input or output block, bytes) exceeds half of the largest one chosen are
/// dropped (each op keeps its smallest) and the search runs again, until it fits or no
/// candidate is left to drop. Deterministic: ties go to the first candidate (fewest
/// batch parts, then most rows).
public struct GridSearch: Sendable {
    public var cost: StepCostModel
    /// Bytes per rank the step may use; nil for no limit.
    public var memoryLimit: Int?
    /// The share of the best fixed policy's predicted step time by which searched grids
    /// that differ from every fixed policy must be faster to be chosen over it.
    public var minimumGain = GridSearch.defaultMinimumGain
    public static let defaultMinimumGain = 0.05

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
        /// The searched grids when a fixed policy was kept instead (predicted faster by
        /// less than `minimumGain`); nil when `best` holds them or a fixed policy is
        /// cheaper outright.
        public var declined: Choice?
        /// The gain a grid change had to show to be chosen (the search's `minimumGain`).
        public var minimumGain: Double
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
                let smallest = zip(c, bytes).min { $0.1 < $1.1 }.map(\.0) ?? c[0]
                return kept.isEmpty ? [smallest] : kept
            }
            if next.elementsEqual(current, by: ==) { break }
            current = next
        }
        let fitting = tried.filter { fits($0.estimate) }
        guard var best = fitting.min(by: { $0.estimate.seconds < $1.estimate.seconds }) else {
            let smallest = tried.map(\.estimate.peakBytesPerRank).min() ?? 0
            throw SearchError.noFit(limit: memoryLimit ?? 0, smallestPeak: smallest)
        }
        let (chosen, declined) = Self.keepingFixed(best, policies: policies.filter { fits($0.estimate) },
                                                   minimumGain: minimumGain)
        best = chosen
        best.name = "auto"
        return Result(best: best, policies: policies, declined: declined, minimumGain: minimumGain)
    }

    /// `cheapest`, unless its grids differ from every one of `policies` (those that fit)
    /// and it beats the best of them by less than `minimumGain`: then that policy, and
    /// `cheapest` as the declined one (named "searched").
    static func keepingFixed(_ cheapest: Choice, policies: [Choice], minimumGain: Double) -> (Choice, declined: Choice?) {
        let grids = { (c: Choice) in c.model.ops.map(\.grid) }
        guard let fixed = policies.min(by: { $0.estimate.seconds < $1.estimate.seconds }),
              !policies.contains(where: { grids($0) == grids(cheapest) }),
              cheapest.estimate.seconds > (1 - minimumGain) * fixed.estimate.seconds
        else { return (cheapest, nil) }
        var declined = cheapest
        declined.name = "searched"
        return (fixed, declined)
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
                guard let square = splits.min(by: { (abs($0[0] - $0[1]), -$0[0]) < (abs($1[0] - $1[1]), -$1[0]) })
                else { continue }
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

    /// The costs the dynamic program adds up: per grid, the model with every op on it.
    struct Tables {
        var candidates: [[[Int]]]
        var uniform: [[Int]: Uniform]
    }

    /// Per candidate grid, the partition of the model with every op on it (where it
    /// fits) and each op's own cost there, priced on the grid's representative ranks from
    /// the partition's rects (no execution plan: at 1,024 ranks one costs a linear pass
    /// over the ranks per op, too slow for every grid).
    func tables(_ model: Model, ranks: Int, candidates: [[[Int]]]) -> Tables {
        let f = model.ops.count
        var grids: [[Int]] = []
        for c in candidates.dropFirst() { for g in c where !grids.contains(g) { grids.append(g) } }
        var uniform: [[Int]: Uniform] = [:]
        for g in grids {
            var m = model
            for i in 1..<f { m.ops[i].grid = candidates[i].contains(g) ? g : candidates[i][0] }
            m.ops[0].grid = candidates[0][0]
            guard let partition = try? Partition(model: m, ranks: ranks) else { continue }
            var single = m
            for i in single.ops.indices { single.ops[i].grid = g }
            let reps = StepCostModel.ranks(for: single, ranks: ranks)
            var node = [Double?](repeating: nil, count: f), halo = [Double?](repeating: nil, count: f)
            var u = Uniform(partition: partition, reps: reps, node: node, halo: halo)
            let layouts = cost.layouts(m)
            for i in 1..<f where m.ops[i].grid == g {
                node[i] = reps.map { cost.ownSeconds(m, partition, i, rank: $0, layouts: layouts[i]) }.max()
                halo[i] = transition(m, i, from: u, to: u)
            }
            u.node = node
            u.halo = halo
            uniform[g] = u
        }
        return Tables(candidates: candidates, uniform: uniform)
    }

    /// Op `i` on `g` after its producer on `gp`: its own cost plus its input's move.
    func step(_ model: Model, _ t: Tables, _ i: Int, from gp: [Int]?, to g: [Int]) -> Double {
        guard let u = t.uniform[g], let node = u.node[i] else { return .infinity }
        guard let gp, i > 1 else { return node + (u.halo[i] ?? 0) }
        return node + (gp == g ? (u.halo[i] ?? 0) : transition(model, i, from: t.uniform[gp], to: u))
    }

    /// The dynamic program's objective for one choice of grids (ops 1..., by candidate).
    func objective(_ model: Model, _ t: Tables, _ grids: [[Int]]) -> Double {
        (1..<model.ops.count).reduce(0) { $0 + step(model, t, $1, from: $1 > 1 ? grids[$1 - 1] : nil, to: grids[$1]) }
    }

    /// The grids (index 0: the data op's) of the least objective.
    func cheapest(_ model: Model, _ t: Tables) -> [[Int]]? {
        let f = model.ops.count, candidates = t.candidates
        guard f > 1 else { return nil }
        // best[i][k]: the least cost of ops 1...i with op i on candidates[i][k].
        var best: [[Double]] = Array(repeating: [], count: f)
        var from: [[Int]] = Array(repeating: [], count: f)
        for i in 1..<f {
            best[i] = Array(repeating: .infinity, count: candidates[i].count)
            from[i] = Array(repeating: 0, count: candidates[i].count)
            for (k, g) in candidates[i].enumerated() {
                if i == 1 {
                    best[i][k] = step(model, t, i, from: nil, to: g)
                    continue
                }
                for (j, gp) in candidates[i - 1].enumerated() where best[i - 1][j].isFinite {
                    let total = best[i - 1][j] + step(model, t, i, from: gp, to: g)
                    if total < best[i][k] {
                        best[i][k] = total
                        from[i][k] = j
                    }
                }
            }
        }
        guard var k = best[f - 1].indices.min(by: { best[f - 1][$0] < best[f - 1][$1] }), best[f - 1][k].isFinite
        else { return nil }
        var grids = Array(repeating: candidates[0][0], count: f)
        for i in stride(from: f - 1, through: 1, by: -1) {
            grids[i] = candidates[i][k]
            k = from[i][k]
        }
        return grids
    }

    func dynamicProgram(_ model: Model, ranks: Int, candidates: [[[Int]]]) throws -> Model {
        guard let grids = cheapest(model, tables(model, ranks: ranks, candidates: candidates)) else {
            throw ModelError(file: model.source, field: "grid", "no grid sequence partitions \(model.name) on \(ranks) ranks")
        }
        var result = model
        for i in grids.indices { result.ops[i].grid = grids[i] }
        return result
    }

    /// Op `i`'s input moved from its producer's layout on one grid to the op's reads on
    /// another: on each representative reader, the bytes from every writer (each a
    /// message, packed and unpacked) and its own part copied; twice when a gradient goes
    /// back the same way.
    func transition(_ model: Model, _ i: Int, from source: Uniform?, to target: Uniform) -> Double {
        guard let source, let input = model.ops[i].input else { return 0 }
        let producer = model.ops.firstIndex { $0.outputs.contains(input) } ?? 0
        // The loader fills each rank's input rect itself.
        if producer == 0 { return 0 }
        let tensor = source.partition.tensor(input)
        let primaries = source.partition.model.ops[producer].gridRanks
        let writes = tensor.write
        guard let reads = target.partition.ops.first(where: { $0.name == model.ops[i].name && $0.phase == .forward })?
            .distInput else { return 0 }
        let es = cost.elementSize
        // Read where written on every rank: the op reads its producer's buffer in place.
        if target.reps.allSatisfy({ reads[$0] == writes[$0] }) && source.partition.model.ops[producer].grid
            == target.partition.model.ops[producer].grid { return 0 }
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
