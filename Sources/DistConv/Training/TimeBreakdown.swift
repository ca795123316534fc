/// One step's time on rank 0 in the five groups the metrics file records and
/// `distconv report` draws, made from `StepTimer`'s categories. The mapping lives here
/// and nowhere else:
///
/// - `data`: loading the batch (`data`);
/// - `allreduce`: the wait for the gradient buckets and the sums of sharded parameters'
///   gradients (`allreduce wait`; any category naming an allreduce);
/// - `halo`: every redistribution between two layouts of a tensor, forward or backward
///   (`halo/layout exchange`, `reverse halo/layout exchange`, `partial-sum reduction`,
///   `partial-sum gradient copy`, `output recovery`; any category naming an exchange, a
///   partial sum or a recovery);
/// - `compute`: every other timed category: each op kind's forward and backward, the
///   optimizer, the finiteness check (`check`), local layout reorders (`layout reorder`);
/// - `waiting`: the part of the step's wall time that no category covers, mostly the
///   allreduce of the loss, where rank 0 waits for the slowest rank, plus the bookkeeping
///   between timed sections. Never negative.
///
/// A new `StepTimer` category lands in `compute` unless its name says otherwise; give an
/// exchange a name with "exchange" in it.
public struct TimeBreakdown: Sendable, Equatable {
    public enum Group: String, CaseIterable, Sendable {
        case compute, halo, allreduce, data, waiting
    }

    /// Seconds per group; every group present.
    public private(set) var seconds: [Group: Double]
    /// The step's wall time in seconds.
    public let wall: Double

    /// The group a `StepTimer` category belongs to.
    public static func group(of category: String) -> Group {
        let name = category.lowercased()
        if name == "data" { return .data }
        if name.contains("allreduce") { return .allreduce }
        if name.contains("exchange") || name.contains("partial-sum") || name.contains("recovery") { return .halo }
        return .compute
    }

    /// The breakdown of the time spent between two readings of a timer's `seconds`
    /// (`before` taken at the start of the step, `after` at its end) over `wall` seconds.
    public init(before: [String: Double], after: [String: Double], wall: Double) {
        var seconds = Dictionary(uniqueKeysWithValues: Group.allCases.map { ($0, 0.0) })
        for (category, total) in after {
            seconds[Self.group(of: category), default: 0] += max(0, total - (before[category] ?? 0))
        }
        let covered = seconds.values.reduce(0, +)
        seconds[.waiting, default: 0] += max(0, wall - covered)
        self.seconds = seconds
        self.wall = wall
    }
}
