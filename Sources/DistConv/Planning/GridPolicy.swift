import Foundation

/// Chooses every op's process grid for a number of ranks, so an imported graph (or any
/// model) can be partitioned without writing grids by hand.
///
/// Grids split only batch (N), height (H) and width (W), never channels, as
/// `[n, 1, a, b]` with `n * a * b == ranks`, over the tensor the op partitions (its
/// output; its input for linear layers and losses):
/// - `batch`: `[R, 1, 1, 1]` (data parallelism).
/// - `spatial`: `[1, 1, a, b]`, `a * b = R` as square as possible, `a >= b`
///   (4 ranks: 2x2, 8 ranks: 4x2).
/// - `hybrid`: `[n, 1, a, b]` with `n` the largest divisor of R with `n * n <= R`
///   (4 ranks: `[2, 1, 2, 1]`, 8 ranks: `[2, 1, 2, 2]`); 2 ranks give spatial.
/// Ops that may split only the batch (flatten, losses, evaluation) and ops whose tensor is
/// too small for the preferred grid (a linear layer's `[N, features, 1, 1]` input, a 7x7
/// map on 16 ranks) take the closest grid that fits: for spatial and hybrid the one with
/// the fewest batch parts beyond the preferred, for batch the most. When no split of
/// N x H x W into R parts fits (a batch of 2 on 4 ranks for a loss), the op gets the
/// grid of the most ranks that fits, replicated over the rest (`Partition.init`).
public enum GridPolicy: String, Sendable, CaseIterable, Equatable {
    case batch, spatial, hybrid

    /// The model with every op's grid chosen by this policy for `ranks` ranks.
    public func apply(to model: Model, ranks: Int) throws -> Model {
        precondition(ranks >= 1, "grid policy for \(ranks) ranks")
        var result = model
        for i in result.ops.indices {
            result.ops[i].grid = try grid(for: result.ops[i], ranks: ranks, source: model.source)
        }
        return result
    }

    /// The preferred number of batch parts for `ranks` ranks.
    public func batchParts(ranks: Int) -> Int {
        switch self {
        case .batch: return ranks
        case .spatial: return 1
        case .hybrid: return (1...ranks).last { ranks % $0 == 0 && $0 * $0 <= ranks } ?? 1
        }
    }

    func grid(for op: Op, ranks: Int, source: String) throws -> [Int] {
        // The most ranks that some split fits: all of them when the tensor allows, else a
        // replicated grid over fewer (a batch of 2 on 4 ranks: the loss on [2, 1, 1, 1]).
        for parts in stride(from: ranks, through: 1, by: -1) {
            if let best = bestGrid(for: op, parts: parts, preferred: batchParts(ranks: parts)) { return best }
        }
        throw ModelError(file: source, op: op.name, field: "grid", "no grid fits the tensor \(op.partitionedShape)")
    }

    /// The preferred grid of exactly `parts` ranks for the op's tensor, if any fits.
    private func bestGrid(for op: Op, parts: Int, preferred: Int) -> [Int]? {
        let shape = op.partitionedShape
        let batchOnly = op.splittableDimensions != nil
        var candidates: [[Int]] = []
        for n in ShapeInference.divisors(parts) where n <= shape[0] {
            let rest = parts / n
            for a in ShapeInference.divisors(rest) {
                let b = rest / a
                guard a <= shape[2], b <= shape[3], !batchOnly || rest == 1 else { continue }
                candidates.append([n, 1, a, b])
            }
        }
        // Closest batch split first (fewer parts win a tie for spatial, more for batch),
        // then the squarest spatial split, then more rows than columns.
        func key(_ g: [Int]) -> (Double, Int, Int, Int) {
            let distance = abs(log2(Double(g[0])) - log2(Double(preferred)))
            let direction = self == .batch ? -g[0] : g[0]
            return (distance, direction, abs(g[2] - g[3]), -g[2])
        }
        return candidates.min(by: { key($0) < key($1) })
    }
}
