import Geometry
import Testing

@testable import Comm

/// How each message travels: packed through scratch, or straight from and into the
/// buffer when it is one contiguous run there; and what a halo of a blocked (nChw16c)
/// shard, seen as a 5-D tensor `[N, C/16, H, W, 16]`, compiles to. The MPI side is
/// checked by `mpi-checks redistribute` (scenarios `halo-in-place`, `halo-blocked`).
@Suite struct MessageTransportTests {
    func program(
        _ layout: TensorLayout, mode: RedistributionMode, rank: Int
    ) -> RedistributionProgram {
        let pattern = mode == .copy ? layout : layout.mirrored
        return RedistributionProgram(
            plan: RedistributionPlan(from: pattern, to: pattern, rank: rank, mode: mode),
            sourceStorage: pattern.storage(rank: rank), targetStorage: pattern.storage(rank: rank))
    }

    /// One channel split into two row blocks: rank 0's last rows are one run of its
    /// buffer (whole width), and so is the halo below them.
    @Test(arguments: [1, 4]) func rowsOfAFullWidthSplitTravelStraightFromTheBuffer(width: Int) {
        let layout = TensorLayout.blocks(
            shape: [1, 1, 64, 48], grid: ProcessGrid(shape: [1, 1, 2, 1]), halo: [0, 0, width, width], ranks: 2)
        let storage = layout.storage(rank: 0)
        #expect(storage == Rect(origin: [0, 0, 0, 0], size: [1, 1, 32 + width, 48]))
        let copy = program(layout, mode: .copy, rank: 0)
        #expect(copy.sends.map(\.contiguousOffset) == [storage.linearIndex(of: [0, 0, 32 - width, 0])])
        #expect(copy.receives.map(\.contiguousOffset) == [storage.linearIndex(of: [0, 0, 32, 0])])
        #expect(copy.receives.allSatisfy { copy.receivesInPlace($0) })
        // The gradients' way back: sent straight from the halo rows, added from scratch.
        let reverse = program(layout, mode: .accumulate, rank: 0)
        #expect(reverse.sends.map(\.contiguousOffset) == [storage.linearIndex(of: [0, 0, 32, 0])])
        #expect(reverse.receives.map(\.contiguousOffset) == [storage.linearIndex(of: [0, 0, 32 - width, 0])])
        #expect(!reverse.receives.contains { reverse.receivesInPlace($0) })
    }

    /// Sixteen channels on a 2x2 grid: rows, columns and corners are all strided in the
    /// buffer, so all of them are packed and unpacked.
    @Test func stridedMessagesArePacked() {
        let layout = TensorLayout.blocks(
            shape: [1, 16, 64, 64], grid: ProcessGrid(shape: [1, 1, 2, 2]), halo: [0, 0, 1, 1], ranks: 4)
        for mode in [RedistributionMode.copy, .accumulate] {
            let p = program(layout, mode: mode, rank: 0)
            #expect(p.sends.count == 3 && p.receives.count == 3)
            #expect((p.sends + p.receives).allSatisfy { $0.contiguousOffset == nil }, "\(mode)")
            #expect(!p.receives.contains { p.receivesInPlace($0) })
        }
    }

    /// `[2, 32, 32, 32]` stored blocked is `[2, 2, 32, 32, 16]`. On a 2x2 grid with halo
    /// `w`, rank 0's column halo for its neighbour is, per (image, channel block), 16 rows
    /// of one run of `w` whole pixels (64 bytes each in Float), and the (image, channel
    /// block) pairs merge into one loop of 4; its messages hold as many elements as
    /// those of the same tensor in NCHW.
    @Test(arguments: [1, 4]) func blockedHaloColumnsAreRunsOfWholePixels(width: Int) {
        let grid = ProcessGrid(shape: [1, 1, 2, 2])
        let nchw = TensorLayout.blocks(shape: [2, 32, 32, 32], grid: grid, halo: [0, 0, width, width], ranks: 4)
        let blocked = TensorLayout.blocks(
            shape: [2, 2, 32, 32, 16], grid: ProcessGrid(shape: [1, 1, 2, 2, 1]),
            halo: [0, 0, width, width, 0], ranks: 4)
        for mode in [RedistributionMode.copy, .accumulate] {
            for rank in 0..<4 {
                let a = program(nchw, mode: mode, rank: rank)
                let b = program(blocked, mode: mode, rank: rank)
                #expect(a.sends.map(\.peer) == b.sends.map(\.peer))
                #expect(a.sends.map(\.count) == b.sends.map(\.count), "\(mode) rank \(rank)")
                #expect(a.receives.map(\.count) == b.receives.map(\.count), "\(mode) rank \(rank)")
            }
        }
        let p = program(blocked, mode: .copy, rank: 0)
        let storageWidth = 16 + width
        // Rank 0 holds rows 0..<16 and columns 0..<16; the rank below it (rank 1, the
        // first grid dimension counts fastest) takes its last `width` rows, the rank beside
        // it (rank 2) its last `width` columns.
        let column = p.sends.first { $0.peer == 2 }!.boxes
        #expect(column.count == 1)
        #expect(column[0].run == 16 * width && column[0].rows == 16)
        #expect(column[0].rowSourceStride == storageWidth * 16)
        #expect(column[0].outerSizes == [4])
        let row = p.sends.first { $0.peer == 1 }!.boxes
        #expect(row.count == 1)
        // A row of the block is one run of 16 pixels; a halo one row deep loops over the
        // 4 (image, channel block) pairs only.
        #expect(row[0].run == 16 * 16 && row[0].count / row[0].run == 4 * width)
        let corner = p.sends.first { $0.peer == 3 }!.boxes
        #expect(corner[0].run == 16 * width && corner[0].count / corner[0].run == 4 * width)
    }

    /// The fast path: a halo row of a blocked shard is, per image, one run of whole
    /// pixels in the sender's buffer and in the receiver's, so it travels as one MPI
    /// message per image, straight from and into the buffers (no packing); the runs in
    /// order are the packed message. Columns and corners (short runs) stay packed.
    @Test(arguments: [1, 4]) func blockedHaloRowsTravelAsRunsOfTheirBuffers(width: Int) {
        let shape = [4, 1, 64, 256, 16]
        let layout = TensorLayout.blocks(
            shape: shape, grid: ProcessGrid(shape: [1, 1, 2, 2, 1]), halo: [0, 0, width, width, 0], ranks: 4)
        for mode in [RedistributionMode.copy, .accumulate] {
            for rank in 0..<4 {
                let p = program(layout, mode: mode, rank: rank)
                let volume = p.sourceStorage.volume
                // The peer across the row boundary is rank ^ 1 (the first grid dimension
                // counts fastest), across the column rank ^ 2, the corner rank ^ 3.
                for sending in [true, false] {
                    let messages = sending ? p.sends : p.receives
                    let row = messages.first { $0.peer == rank ^ 1 }!
                    let runs = row.runs ?? []
                    #expect(runs.count == 4 * width, "\(mode) rank \(rank)")
                    #expect(runs.allSatisfy { $0.count == 128 * 16 })
                    #expect(runs.map(\.position) == runs.indices.map { $0 * 128 * 16 })
                    // Message element i sits at runs' offsets in the buffer, as the boxes
                    // (the packed path) put it.
                    var buffer = [Float](repeating: -1, count: volume)
                    var message = [Float](repeating: -1, count: row.count)
                    if sending {
                        buffer = (0..<volume).map { Float($0) }
                        buffer.withUnsafeBufferPointer { b in
                            message.withUnsafeMutableBufferPointer { m in p.pack(row, from: b.baseAddress!, into: m.baseAddress! - row.offset) }
                        }
                        #expect(runs.flatMap { buffer[$0.offset..<($0.offset + $0.count)] } == message)
                    } else {
                        message = (0..<row.count).map { Float($0) }
                        for box in row.boxes {
                            message.withUnsafeBufferPointer { m in
                                buffer.withUnsafeMutableBufferPointer { b in
                                    box.copy(from: m.baseAddress! - row.offset, to: b.baseAddress!, elementSize: 4)
                                }
                            }
                        }
                        #expect(runs.flatMap { buffer[$0.offset..<($0.offset + $0.count)] } == message)
                    }
                    #expect(messages.filter { $0.peer != rank ^ 1 }.allSatisfy { $0.runs == nil })
                }
                #expect(p.receivesInPlace(p.receives.first { $0.peer == rank ^ 1 }!) == (mode == .copy))
            }
        }
    }

    /// The regions a caller must leave alone between `start` and `finish` are the plan's
    /// message rects: for rank 0 of a 2x2 halo, the strips around its block it receives,
    /// and the strips inside its block it sends.
    @Test func incomingAndOutgoingRegionsAreTheHaloStrips() {
        let layout = TensorLayout.blocks(
            shape: [1, 2, 8, 8], grid: ProcessGrid(shape: [1, 1, 2, 2]), halo: [0, 0, 1, 1], ranks: 4)
        let plan = RedistributionPlan(from: layout, to: layout, rank: 0, mode: .copy)
        let incoming = plan.receives.flatMap(\.rects)
        #expect(
            Set(incoming) == [
                Rect(origin: [0, 0, 4, 0], size: [1, 2, 1, 4]),
                Rect(origin: [0, 0, 0, 4], size: [1, 2, 4, 1]),
                Rect(origin: [0, 0, 4, 4], size: [1, 2, 1, 1]),
            ])
        let outgoing = plan.sends.flatMap(\.rects)
        #expect(
            Set(outgoing) == [
                Rect(origin: [0, 0, 3, 0], size: [1, 2, 1, 4]),
                Rect(origin: [0, 0, 0, 3], size: [1, 2, 4, 1]),
                Rect(origin: [0, 0, 3, 3], size: [1, 2, 1, 1]),
            ])
    }
}
