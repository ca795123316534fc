import Comm
import Geometry
import Testing

@Suite struct TensorLayoutTests {
    @Test func blocksFollowTheDumpsRankNumbering() {
        let layout = TensorLayout.blocks(shape: [1, 16, 64, 64], grid: ProcessGrid(shape: [1, 1, 2, 2]))
        #expect(layout.write[1] == Rect(origin: [0, 0, 32, 0], size: [1, 16, 32, 32]))
        #expect(layout.read[1] == layout.write[1])
    }

    @Test func haloIsClippedToTheTensor() {
        let layout = TensorLayout.blocks(
            shape: [1, 1, 41, 8], grid: ProcessGrid(shape: [1, 1, 2, 1]),
            halo: [0, 0, 2, 1])
        #expect(layout.write[0] == Rect(origin: [0, 0, 0, 0], size: [1, 1, 21, 8]))
        #expect(layout.read[0] == Rect(origin: [0, 0, 0, 0], size: [1, 1, 23, 8]))
        #expect(layout.read[1] == Rect(origin: [0, 0, 19, 0], size: [1, 1, 22, 8]))
    }

    @Test func extraRanksAndEmptyBlocksHoldNothing() {
        let layout = TensorLayout.blocks(shape: [2], grid: ProcessGrid(shape: [3]), halo: [1], ranks: 4)
        #expect(layout.write[2].isEmpty && layout.read[2].isEmpty)
        #expect(layout.write[3].isEmpty && layout.read[3].isEmpty)
        #expect(layout.storage(rank: 3).isEmpty)
        #expect(layout.read[0] == Rect(origin: [0], size: [2]))
    }

    @Test func nilAndEmptyRectsAreTheSameLayout() {
        let a = TensorLayout(shape: [4], rects: [nil, Rect(origin: [0], size: [4])])
        let b = TensorLayout(shape: [4], rects: [Rect(origin: [3], size: [0]), Rect(origin: [0], size: [4])])
        #expect(a == b)
    }

    @Test func wholeReplicatedAndMirrored() {
        let whole = TensorLayout.whole(shape: [3, 2], on: 1, ranks: 3)
        #expect(whole.write[0].isEmpty && whole.write[1] == Rect(shape: [3, 2]))
        let replicated = TensorLayout.replicated(shape: [3, 2], ranks: 2)
        #expect(replicated.read == [Rect(shape: [3, 2]), Rect(shape: [3, 2])])
        let halo = TensorLayout.blocks(shape: [8], grid: ProcessGrid(shape: [2]), halo: [1])
        #expect(halo.mirrored.write == halo.read && halo.mirrored.read == halo.write)
        #expect(halo.mirrored.storage(rank: 0) == halo.storage(rank: 0))
    }
}
