/// Heuristics for the offset-assignment (dynamic storage allocation) problem, which is
/// NP-hard; each is within a few percent of the lower bound on layer chains.
public enum ArenaStrategy: String, Sendable, CaseIterable, Equatable {
    /// Sekiyama et al. 2018 ("Profile-guided memory optimization for deep neural
    /// networks"), after Burke et al.'s best-fit strip packing: fill the lowest gap of
    /// the skyline with the longest-lived block that fits in it (then the largest).
    case bestFit = "best-fit"
    /// Largest first, each into the smallest gap left by the buffers it overlaps in time.
    case greedyBySize = "greedy-by-size"
    /// Both, keeping the smaller arena (best-fit on a tie).
    case best
}
