import Geometry
import Testing

@testable import Comm

/// Which receives land in place through MPI datatypes and which go through scratch (the
/// MPI side is checked by `mpi-checks redistribute`, scenario `halo-in-place`).
@Suite struct ReceivePlacementTests {
    func program(_ shape: [Int], halo: [Int], mode: RedistributionMode, rank: Int = 0) -> RedistributionProgram {
        let layout = TensorLayout.blocks(shape: shape, grid: ProcessGrid(shape: [1, 1, 2, 2]), halo: halo, ranks: 4)
        let pattern = mode == .copy ? layout : layout.mirrored
        return RedistributionProgram(
            plan: RedistributionPlan(from: pattern, to: pattern, rank: rank, mode: mode),
            sourceStorage: pattern.storage(rank: rank), targetStorage: pattern.storage(rank: rank))
    }

    /// Per peer, whether its message lands in place. For rank 0 of a 2x2 grid, rank 1 (the
    /// block below) sends rows, rank 2 (beside) a column, rank 3 a corner.
    func placements(_ p: RedistributionProgram, elementSize: Int) -> [Int: Bool] {
        Dictionary(uniqueKeysWithValues: p.receives.map { ($0.peer, p.receivesInPlace($0, elementSize: elementSize)) })
    }

    @Test func rowsLandInPlaceColumnsAndCornersInScratch() {
        for width in [1, 4] {
            let p = program([1, 16, 256, 256], halo: [0, 0, width, width], mode: .copy)
            #expect(placements(p, elementSize: 4) == [1: true, 2: false, 3: false], "width \(width)")
            #expect(p.receiveScratchCount == p.receiveCount + 3)
        }
    }

    @Test func runsOfAtLeastOneCacheLineLandInPlace() {
        // Blocks 8 wide: rows of 8 floats are 32 bytes, of 8 doubles 64.
        let p = program([1, 2, 16, 16], halo: [0, 0, 1, 1], mode: .copy)
        #expect(placements(p, elementSize: 4)[1] == false)
        #expect(placements(p, elementSize: 8)[1] == true)
    }

    @Test func accumulateAlwaysGoesThroughScratch() {
        let p = program([1, 16, 256, 256], halo: [0, 0, 4, 4], mode: .accumulate)
        #expect(!p.receives.isEmpty)
        #expect(placements(p, elementSize: 8).values.allSatisfy { !$0 })
    }
}
