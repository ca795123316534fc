import Geometry
import Testing
import TestSupport

/// Random rects of a rank, origins in -8..<8 and sizes in 0..<10 (so some are empty).
func randomRect(rank: Int, using g: inout SplitMix64) -> Rect {
    Rect(origin: (0..<rank).map { _ in Int.random(in: -8..<8, using: &g) },
         size: (0..<rank).map { _ in Int.random(in: 0..<10, using: &g) })
}

/// The set of points of a rect, the independent reference for the algebra.
func pointSet(_ r: Rect) -> Set<[Int]> { Set(r.points) }

@Suite struct RectTests {
    @Test func describesItselfInTheDumpFormat() {
        let r = Rect(origin: [0, 0, 32, 0], size: [256, 16, 32, 32])
        #expect(r.description == "Rect(array([ 0, 0, 32, 0], dtype=int32), array([256, 16, 32, 32], dtype=int32))")
        #expect(Rect(origin: [0], size: [1]).description == "Rect(array([0], dtype=int32), array([1], dtype=int32))")
        #expect(numpyArrayStr([1, 16, 64, 64]) == "[ 1 16 64 64]")
        #expect(numpyArrayStr([256, 3034, 1, 1]) == "[ 256 3034 1 1]")
    }

    @Test func emptyIsValid() {
        let e = Rect(origin: [3, 4], size: [0, 5])
        #expect(e.isEmpty)
        #expect(e.volume == 0)
        #expect(Array(e.points).isEmpty)
        #expect(Rect(shape: [2, 2]).contains(e))
        #expect(Rect(origin: [1], size: [-3]).size == [0])
        let disjoint = Rect(origin: [0, 0], size: [2, 2]).intersection(Rect(origin: [5, 5], size: [2, 2]))
        #expect(disjoint.isEmpty)
    }

    @Test func volumeAndIterationAgree() {
        var g = SplitMix64(seed: 1)
        for _ in 0..<200 {
            let r = randomRect(rank: Int.random(in: 1...4, using: &g), using: &g)
            let pts = Array(r.points)
            #expect(pts.count == r.volume)
            #expect(Set(pts).count == pts.count)
            #expect(pts.allSatisfy { r.contains(point: $0) })
            // Row-major: linear indices are 0, 1, 2, ...
            #expect(pts.enumerated().allSatisfy { r.linearIndex(of: $0.element) == $0.offset })
        }
    }

    @Test func intersectionIsCommutativeAndContainedInBoth() {
        var g = SplitMix64(seed: 2)
        for _ in 0..<500 {
            let rank = Int.random(in: 1...3, using: &g)
            let a = randomRect(rank: rank, using: &g), b = randomRect(rank: rank, using: &g)
            let i = a.intersection(b)
            #expect(pointSet(i) == pointSet(b.intersection(a)))
            #expect(a.contains(i) && b.contains(i))
            #expect(pointSet(i) == pointSet(a).intersection(pointSet(b)))
            #expect(a.intersects(b) == !i.isEmpty)
        }
    }

    @Test func unionBoundsBothAndIsTheSmallestSuchBox() {
        var g = SplitMix64(seed: 3)
        for _ in 0..<500 {
            let rank = Int.random(in: 1...3, using: &g)
            let a = randomRect(rank: rank, using: &g), b = randomRect(rank: rank, using: &g)
            let u = a.union(b)
            #expect(u.contains(a) && u.contains(b))
            if !a.isEmpty && !b.isEmpty {
                for d in 0..<rank {
                    #expect(u.origin[d] == min(a.origin[d], b.origin[d]))
                    #expect(u.end[d] == max(a.end[d], b.end[d]))
                }
            }
            #expect(Rect.bounding([a, b]) ?? Rect.empty(dimensions: rank) == (a.isEmpty && b.isEmpty ? Rect.empty(dimensions: rank) : u))
        }
    }

    @Test func containmentMatchesPointSets() {
        var g = SplitMix64(seed: 4)
        for _ in 0..<500 {
            let rank = Int.random(in: 1...3, using: &g)
            let a = randomRect(rank: rank, using: &g), b = randomRect(rank: rank, using: &g)
            #expect(a.contains(b) == pointSet(b).isSubset(of: pointSet(a)))
        }
    }

    @Test func shiftAndClip() {
        var g = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let rank = Int.random(in: 1...3, using: &g)
            let a = randomRect(rank: rank, using: &g)
            let offset = (0..<rank).map { _ in Int.random(in: -5...5, using: &g) }
            let s = a.shifted(by: offset)
            #expect(s.size == a.size)
            #expect(pointSet(s) == Set(a.points.map { zip($0, offset).map(+) }))
            let bounds = randomRect(rank: rank, using: &g)
            #expect(bounds.contains(a.clipped(to: bounds)))
        }
    }

    @Test func splitFollowsTheDumpRule() {
        #expect(blockRange(length: 41, parts: 2, index: 0) == 0..<21)
        #expect(blockRange(length: 41, parts: 2, index: 1) == 21..<41)
        #expect(blockRange(length: 10, parts: 3, index: 0) == 0..<4)
        #expect(blockRange(length: 10, parts: 3, index: 2) == 7..<10)
        let whole = Rect(shape: [256, 1, 41, 41])
        #expect(whole.block(parts: [1, 1, 2, 2], at: [0, 0, 1, 0]) == Rect(origin: [0, 0, 21, 0], size: [256, 1, 20, 21]))
    }

    @Test func blocksOfASplitTileTheRectExactly() {
        var g = SplitMix64(seed: 6)
        for _ in 0..<300 {
            let rank = Int.random(in: 1...4, using: &g)
            let r = Rect(origin: (0..<rank).map { _ in Int.random(in: -4..<4, using: &g) },
                         size: (0..<rank).map { _ in Int.random(in: 1..<9, using: &g) })
            let parts = r.size.map { Int.random(in: 1...$0, using: &g) }
            let blocks = r.split(parts: parts)
            #expect(blocks.count == parts.reduce(1, *))
            #expect(blocks.map(\.volume).reduce(0, +) == r.volume)
            var seen = Set<[Int]>()
            for b in blocks {
                #expect(r.contains(b))
                #expect(!b.isEmpty)
                for p in b.points { #expect(seen.insert(p).inserted, "point \(p) in two blocks") }
            }
            #expect(seen == pointSet(r))
            // Sizes along a dimension differ by at most one, larger ones first.
            for d in 0..<rank {
                let sizes = (0..<parts[d]).map { blockRange(length: r.size[d], parts: parts[d], index: $0).count }
                #expect(sizes == sizes.sorted(by: >) && sizes.max()! - sizes.min()! <= 1)
            }
        }
    }
}
