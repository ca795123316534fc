import Geometry
import TestSupport
import Testing

@testable import Comm

@Suite struct RectPiecesTests {
    @Test func subtractingDisjointKeepsTheRect() {
        let a = Rect(origin: [0, 0], size: [2, 2])
        #expect(a.subtracting(Rect(origin: [5, 5], size: [1, 1])) == [a])
        #expect(a.subtracting(Rect(origin: [0, 0], size: [4, 4])).isEmpty)
    }

    @Test func subtractingAHoleLeavesAFrame() {
        let a = Rect(origin: [0, 0], size: [3, 3])
        let pieces = a.subtracting(Rect(origin: [1, 1], size: [1, 1]))
        #expect(pieces.count == 4)
        #expect(pieces.reduce(0) { $0 + $1.volume } == 8)
    }

    @Test func subtractingCoversEveryPointOnce() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let shape = RandomLayouts.shape(&rng)
            guard let a = RandomLayouts.rect(in: shape, &rng), let b = RandomLayouts.rect(in: shape, &rng) else {
                continue
            }
            let pieces = a.subtracting(b)
            for p in Rect(shape: shape).points {
                let covered = pieces.filter { $0.contains(point: p) }.count
                let expected = a.contains(point: p) && !b.contains(point: p) ? 1 : 0
                #expect(covered == expected, "\(a) minus \(b) at \(p)")
            }
        }
    }

    @Test func widenedGrowsBothSides() {
        let a = Rect(origin: [2, 3], size: [1, 2])
        #expect(a.widened(by: [1, 0]) == Rect(origin: [1, 3], size: [3, 2]))
    }
}
