import Geometry
import TestSupport
import Testing

@testable import Comm

@Suite struct StridedBoxTests {
    @Test func fullWidthSlabIsOneRun() {
        let frame = Rect(shape: [2, 3, 4, 5])
        let piece = Rect(origin: [1, 0, 0, 0], size: [1, 3, 4, 5])
        let box = StridedBox(piece: piece, sourceFrame: frame, destinationFrame: piece)
        #expect(box.run == 60 && box.rows == 1 && box.outerSizes.isEmpty)
        #expect(box.sourceOffset == 60 && box.destinationOffset == 0)
    }

    @Test func haloColumnIsOneStridedLoop() {
        let frame = Rect(shape: [1, 16, 129, 129])
        let column = Rect(origin: [0, 0, 0, 127], size: [1, 16, 128, 1])
        let box = StridedBox(piece: column, sourceFrame: frame, destinationFrame: column)
        #expect(box.run == 1)
        #expect(box.rows == 128 && box.rowSourceStride == 129 && box.rowDestinationStride == 1)
        #expect(box.outerSizes == [16] && box.outerSourceStrides == [129 * 129])
        #expect(box.count == column.volume)
    }

    @Test func copyAndAddMatchAPointByPointCopy() {
        var rng = SplitMix64(seed: 11)
        var tested = 0
        for _ in 0..<600 {
            let shape = RandomLayouts.shape(&rng)
            guard let sourceFrame = RandomLayouts.rect(in: shape, &rng),
                let destinationFrame = RandomLayouts.rect(in: shape, &rng)
            else { continue }
            let piece = sourceFrame.intersection(destinationFrame)
            if piece.isEmpty { continue }
            let base = RandomLayouts.int(0...3, &rng)
            let box = StridedBox(
                piece: piece, sourceFrame: sourceFrame, destinationFrame: destinationFrame,
                destinationBase: base)
            #expect(box.count == piece.volume)
            tested += 1
            let source = sourceFrame.points.map { formula($0, shape: shape) }
            var copied = [Double](repeating: -1, count: base + destinationFrame.volume)
            var added = [Double](repeating: 0.5, count: base + destinationFrame.volume)
            source.withUnsafeBufferPointer { s in
                copied.withUnsafeMutableBufferPointer { d in
                    box.copy(from: s.baseAddress!, to: d.baseAddress!, elementSize: 8)
                }
                added.withUnsafeMutableBufferPointer { d in box.add(from: s.baseAddress!, to: d.baseAddress!) }
            }
            for p in destinationFrame.points {
                let i = base + destinationFrame.linearIndex(of: p)
                let inside = piece.contains(point: p)
                #expect(copied[i] == (inside ? formula(p, shape: shape) : -1))
                #expect(added[i] == (inside ? formula(p, shape: shape) + 0.5 : 0.5))
            }
        }
        #expect(tested > 150)
    }

    /// Halo columns of a blocked Float shard `[N, C/16, H, W, 16]`: runs of 1 to 17 whole
    /// pixels (64 to 1088 bytes), copied with the 64-byte word loops and, past 1 KB, memcpy.
    @Test(arguments: [1, 2, 4, 15, 17]) func blockedPixelRunsCopyWhole(pixels: Int) {
        let frame = Rect(origin: [0, 0, 0, 0, 0], size: [2, 2, 5, 20, 16])
        let piece = Rect(origin: [0, 0, 1, 2, 0], size: [2, 2, 3, pixels, 16])
        let box = StridedBox(piece: piece, sourceFrame: frame, destinationFrame: piece)
        #expect(box.run == 16 * pixels && box.rows == 3 && box.outerSizes == [4])
        let shape = frame.size
        let source = frame.points.map { Float(formula($0, shape: shape)) }
        var packed = [Float](repeating: -1, count: piece.volume)
        source.withUnsafeBufferPointer { s in
            packed.withUnsafeMutableBufferPointer { d in
                box.copy(from: s.baseAddress!, to: d.baseAddress!, elementSize: 4)
            }
        }
        #expect(packed == piece.points.map { Float(formula($0, shape: shape)) })
    }
}
