extension ArenaAllocator {
    /// Greedy by size: largest buffer first (then longest-lived), each at the start of
    /// the smallest gap between the already placed buffers it overlaps in time that
    /// holds it, else on top of them.
    static func greedyBySize(_ requests: [ArenaRequest]) -> [Int] {
        var offsets = Array(repeating: 0, count: requests.count)
        let order = requests.indices.filter { requests[$0].size > 0 }.sorted { a, b in
            let (x, y) = (requests[a], requests[b])
            return (x.size, x.lifetime.count, -a) > (y.size, y.lifetime.count, -b)
        }
        var placed: [Int] = []
        for i in order {
            let r = requests[i]
            let conflicts = placed.filter { requests[$0].overlaps(r) }.sorted { offsets[$0] < offsets[$1] }
            var top = 0
            var best: (gap: Int, offset: Int)?
            for j in conflicts {
                let gap = offsets[j] - top
                if gap >= r.size, best.map({ gap < $0.gap }) ?? true { best = (gap, top) }
                top = max(top, offsets[j] + requests[j].size)
            }
            offsets[i] = best?.offset ?? top
            placed.append(i)
        }
        return offsets
    }
}
