/// Assigns offsets to buffers with known lifetimes so that buffers alive at the same step
/// never overlap, in as small an arena as the heuristic finds (see `ArenaStrategy`).
/// Pure and deterministic: the same requests give the same offsets on every rank.
public enum ArenaAllocator {
    /// Offsets for `requests`. Zero-byte requests get offset 0.
    public static func assign(_ requests: [ArenaRequest], strategy: ArenaStrategy = .best) -> ArenaAssignment {
        switch strategy {
        case .bestFit: return finish(requests, bestFit(requests), .bestFit)
        case .greedyBySize: return finish(requests, greedyBySize(requests), .greedyBySize)
        case .best:
            let a = assign(requests, strategy: .bestFit), b = assign(requests, strategy: .greedyBySize)
            return b.size < a.size ? b : a
        }
    }

    /// The largest number of bytes alive at any one step: no arena can be smaller.
    public static func lowerBound(_ requests: [ArenaRequest]) -> Int {
        liveBytes(requests).max() ?? 0
    }

    /// Bytes alive at each step `0...lastStep`.
    public static func liveBytes(_ requests: [ArenaRequest]) -> [Int] {
        guard let last = requests.map(\.lifetime.upperBound).max() else { return [] }
        var delta = Array(repeating: 0, count: last + 2)
        for r in requests {
            delta[r.lifetime.lowerBound] += r.size
            delta[r.lifetime.upperBound + 1] -= r.size
        }
        var live: [Int] = [], sum = 0
        for d in delta.dropLast() {
            sum += d
            live.append(sum)
        }
        return live
    }

    /// The first pair of requests that share a step and bytes, if any (for checking).
    public static func firstConflict(_ requests: [ArenaRequest], offsets: [Int]) -> (Int, Int)? {
        precondition(requests.count == offsets.count, "\(requests.count) requests, \(offsets.count) offsets")
        for i in requests.indices where requests[i].size > 0 {
            for j in requests.indices where j > i && requests[j].size > 0 && requests[i].overlaps(requests[j]) {
                if offsets[i] < offsets[j] + requests[j].size && offsets[j] < offsets[i] + requests[i].size {
                    return (i, j)
                }
            }
        }
        return nil
    }

    private static func finish(_ requests: [ArenaRequest], _ offsets: [Int], _ strategy: ArenaStrategy)
        -> ArenaAssignment
    {
        let size = zip(requests, offsets).map { $0.size + $1 }.max() ?? 0
        return ArenaAssignment(offsets: offsets, size: size, strategy: strategy)
    }
}
