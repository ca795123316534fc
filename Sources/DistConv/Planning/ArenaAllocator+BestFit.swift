extension ArenaAllocator {
    /// One piece of the skyline: steps `start..<end` are filled up to `height` bytes.
    private struct Segment {
        var start: Int
        var end: Int
        var height: Int
    }

    /// Best-fit (Sekiyama et al. 2018): time runs across, offsets up, and the placed
    /// buffers form a skyline. Repeatedly take the lowest segment of the skyline (the
    /// earliest on a tie); among the unplaced buffers whose whole lifetime lies within it,
    /// place the longest-lived (then the largest) on top of it. When none fits, raise the
    /// segment to its lower neighbour, giving up that sliver of memory, and merge them.
    static func bestFit(_ requests: [ArenaRequest]) -> [Int] {
        var offsets = Array(repeating: 0, count: requests.count)
        let order = requests.indices.filter { requests[$0].size > 0 }.sorted { a, b in
            let (x, y) = (requests[a], requests[b])
            let (lx, ly) = (x.lifetime.count, y.lifetime.count)
            return (lx, x.size, -a) > (ly, y.size, -b)
        }
        guard let last = order.map({ requests[$0].lifetime.upperBound }).max() else { return offsets }
        var placed = Array(repeating: false, count: requests.count)
        var remaining = order.count
        var skyline = [Segment(start: 0, end: last + 1, height: 0)]

        while remaining > 0 {
            var s = 0
            for k in skyline.indices where skyline[k].height < skyline[s].height { s = k }
            let seg = skyline[s]
            let fit = order.first { i in
                !placed[i] && requests[i].lifetime.lowerBound >= seg.start && requests[i].lifetime.upperBound < seg.end
            }
            if let i = fit {
                let r = requests[i]
                offsets[i] = seg.height
                placed[i] = true
                remaining -= 1
                var pieces: [Segment] = []
                if r.lifetime.lowerBound > seg.start {
                    pieces.append(Segment(start: seg.start, end: r.lifetime.lowerBound, height: seg.height))
                }
                pieces.append(
                    Segment(start: r.lifetime.lowerBound, end: r.lifetime.upperBound + 1, height: seg.height + r.size))
                if r.lifetime.upperBound + 1 < seg.end {
                    pieces.append(Segment(start: r.lifetime.upperBound + 1, end: seg.end, height: seg.height))
                }
                skyline.replaceSubrange(s...s, with: pieces)
            } else {
                // Nothing fits this gap: fill it up to the lower of its neighbours. (A
                // lone segment spans every step, so some buffer always fits it.)
                let left = s > 0 ? skyline[s - 1].height : Int.max
                let right = s + 1 < skyline.count ? skyline[s + 1].height : Int.max
                precondition(min(left, right) < Int.max, "best-fit: no buffer fits the whole timeline")
                skyline[s].height = min(left, right)
            }
            skyline = merged(skyline)
        }
        return offsets
    }

    private static func merged(_ skyline: [Segment]) -> [Segment] {
        var out: [Segment] = []
        for seg in skyline {
            if let lastIndex = out.indices.last, out[lastIndex].height == seg.height {
                out[lastIndex].end = seg.end
            } else {
                out.append(seg)
            }
        }
        return out
    }
}
