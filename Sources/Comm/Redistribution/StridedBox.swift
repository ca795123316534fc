import Geometry

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A copy of one rect between two row-major buffers that store different rects of the
/// same tensor (a local buffer and a packed message, or two local buffers), reduced at
/// build time to loops over contiguous runs.
///
/// Shape of the work: `outer` dimensions (odometer) × `rows` × `run` contiguous elements.
/// Dimensions of length 1 are dropped; inner dimensions that both sides store whole are
/// merged into the run, and adjacent outer dimensions that stay evenly strided are merged
/// into one, so a full-width slab is a single `memcpy` and a one-column halo is one
/// strided loop per channel. No index arithmetic per element happens when copying.
struct StridedBox: Hashable, Sendable {
    /// Offsets (elements) of the rect's first point on each side.
    let sourceOffset: Int
    let destinationOffset: Int
    /// Contiguous elements per run on both sides.
    let run: Int
    /// Runs per slab and their strides (elements).
    let rows: Int
    let rowSourceStride: Int
    let rowDestinationStride: Int
    /// Slabs: sizes and strides of the remaining dimensions, outermost first.
    let outerSizes: [Int]
    let outerSourceStrides: [Int]
    let outerDestinationStrides: [Int]

    /// Number of elements copied.
    var count: Int { outerSizes.reduce(run * rows, *) }

    /// The copy of `piece` from a buffer storing `sourceFrame` (starting at element
    /// `sourceBase`) to one storing `destinationFrame` (at `destinationBase`).
    ///
    /// - Precondition: `piece` is not empty and lies in both frames.
    init(
        piece: Rect, sourceFrame: Rect, sourceBase: Int = 0,
        destinationFrame: Rect, destinationBase: Int = 0
    ) {
        precondition(
            !piece.isEmpty && sourceFrame.contains(piece) && destinationFrame.contains(piece),
            "copying \(piece) from \(sourceFrame) to \(destinationFrame)")
        let sourceStrides = rowMajorStrides(sourceFrame.size)
        let destinationStrides = rowMajorStrides(destinationFrame.size)
        sourceOffset = sourceBase + sourceFrame.linearIndex(of: piece.origin)
        destinationOffset = destinationBase + destinationFrame.linearIndex(of: piece.origin)

        var dims: [(n: Int, s: Int, d: Int)] = []
        for k in 0..<piece.dimensions where piece.size[k] > 1 {
            dims.append((piece.size[k], sourceStrides[k], destinationStrides[k]))
        }
        // Inner dimensions stored whole on both sides extend the contiguous run.
        var run = 1
        while let last = dims.last, last.s == run, last.d == run {
            run *= last.n
            dims.removeLast()
        }
        // Adjacent outer dimensions merge when the outer one steps over the inner exactly.
        var merged: [(n: Int, s: Int, d: Int)] = []
        for dim in dims {
            if let prev = merged.last, prev.s == dim.s * dim.n, prev.d == dim.d * dim.n {
                merged[merged.count - 1] = (prev.n * dim.n, dim.s, dim.d)
            } else {
                merged.append(dim)
            }
        }
        self.run = run
        let rowDim = merged.popLast() ?? (1, 0, 0)
        rows = rowDim.n
        rowSourceStride = rowDim.s
        rowDestinationStride = rowDim.d
        outerSizes = merged.map(\.n)
        outerSourceStrides = merged.map(\.s)
        outerDestinationStrides = merged.map(\.d)
    }

    /// Calls `body(sourceOffset, destinationOffset)` for the first run of every slab.
    @inline(__always)
    func forEachSlab(_ body: (Int, Int) -> Void) {
        let depth = outerSizes.count
        if depth == 0 {
            body(sourceOffset, destinationOffset)
            return
        }
        if depth == 1 {  // The common case (channels of a halo): a plain loop.
            let (n, sourceStep, destinationStep) = (outerSizes[0], outerSourceStrides[0], outerDestinationStrides[0])
            for k in 0..<n { body(sourceOffset + k * sourceStep, destinationOffset + k * destinationStep) }
            return
        }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: depth) { index in
            index.initialize(repeating: 0)
            var s = sourceOffset, d = destinationOffset
            while true {
                body(s, d)
                var k = depth - 1
                while k >= 0 {
                    index[k] += 1
                    s += outerSourceStrides[k]
                    d += outerDestinationStrides[k]
                    if index[k] < outerSizes[k] { break }
                    s -= outerSourceStrides[k] * outerSizes[k]
                    d -= outerDestinationStrides[k] * outerSizes[k]
                    index[k] = 0
                    k -= 1
                }
                if k < 0 { return }
            }
        }
    }

    /// Copies the rect; `elementSize` bytes per element.
    func copy(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, elementSize: Int) {
        let runBytes = run * elementSize
        let sourceStep = rowSourceStride * elementSize
        let destinationStep = rowDestinationStride * elementSize
        let rows = rows
        forEachSlab { s, d in
            copyRows(
                destination + d * elementSize, destinationStep,
                source + s * elementSize, sourceStep, rows, runBytes)
        }
    }

    /// Adds the rect of `source` into `destination`.
    func add<T: MPIScalar>(from source: UnsafePointer<T>, to destination: UnsafeMutablePointer<T>) {
        let (rows, run) = (rows, run)
        let (sourceStep, destinationStep) = (rowSourceStride, rowDestinationStride)
        forEachSlab { s, d in
            T.addRows(
                destination + d, destinationStride: destinationStep,
                source + s, sourceStride: sourceStep, rows: rows, length: run)
        }
    }
}

/// Row-major strides (elements) of a buffer of the given size.
func rowMajorStrides(_ size: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: size.count)
    var step = 1
    for k in stride(from: size.count - 1, through: 0, by: -1) {
        strides[k] = step
        step *= size[k]
    }
    return strides
}

/// `rows` runs of `bytes` bytes, strides in bytes. Short runs (halo columns of width 1
/// to 8 floats, or of 1 to 15 pixels of 16 floats in a blocked layout) are copied with
/// inline loads and stores: a `memcpy` call per run would cost more than the copy. Long
/// runs use `memcpy`.
@inline(__always)
private func copyRows(
    _ destination: UnsafeMutableRawPointer, _ destinationStep: Int,
    _ source: UnsafeRawPointer, _ sourceStep: Int, _ rows: Int, _ bytes: Int
) {
    switch bytes {
    case 4: copyRuns(UInt32.self, destination, destinationStep, source, sourceStep, rows)
    case 8: copyRuns(UInt64.self, destination, destinationStep, source, sourceStep, rows)
    case 16: copyRuns(SIMD2<UInt64>.self, destination, destinationStep, source, sourceStep, rows)
    case 32: copyRuns(SIMD4<UInt64>.self, destination, destinationStep, source, sourceStep, rows)
    // A pixel of a blocked (nChw16c) Float tensor: a halo column of such a shard.
    case 64: copyRuns(SIMD8<UInt64>.self, destination, destinationStep, source, sourceStep, rows)
    case ..<1024 where bytes % 64 == 0:
        for i in 0..<rows {
            let d = destination + i * destinationStep, s = source + i * sourceStep
            for k in stride(from: 0, to: bytes, by: 64) {
                (d + k).storeBytes(of: (s + k).loadUnaligned(as: SIMD8<UInt64>.self), as: SIMD8<UInt64>.self)
            }
        }
    case ..<128 where bytes % 8 == 0:
        for i in 0..<rows {
            let d = destination + i * destinationStep, s = source + i * sourceStep
            for k in stride(from: 0, to: bytes, by: 8) {
                (d + k).storeBytes(of: (s + k).loadUnaligned(as: UInt64.self), as: UInt64.self)
            }
        }
    case ..<128 where bytes % 4 == 0:
        for i in 0..<rows {
            let d = destination + i * destinationStep, s = source + i * sourceStep
            for k in stride(from: 0, to: bytes, by: 4) {
                (d + k).storeBytes(of: (s + k).loadUnaligned(as: UInt32.self), as: UInt32.self)
            }
        }
    default:
        for i in 0..<rows {
            memcpy(destination + i * destinationStep, source + i * sourceStep, bytes)
        }
    }
}

/// `rows` runs of one `Word` each. Unrolled by four so that four independent loads are
/// in flight: each run of a halo column sits on its own cache line.
@inline(__always)
private func copyRuns<Word: BitwiseCopyable>(
    _: Word.Type, _ destination: UnsafeMutableRawPointer, _ destinationStep: Int,
    _ source: UnsafeRawPointer, _ sourceStep: Int, _ rows: Int
) {
    var i = 0
    while i + 4 <= rows {
        let s = source + i * sourceStep, d = destination + i * destinationStep
        let v0 = s.loadUnaligned(as: Word.self)
        let v1 = (s + sourceStep).loadUnaligned(as: Word.self)
        let v2 = (s + 2 * sourceStep).loadUnaligned(as: Word.self)
        let v3 = (s + 3 * sourceStep).loadUnaligned(as: Word.self)
        d.storeBytes(of: v0, as: Word.self)
        (d + destinationStep).storeBytes(of: v1, as: Word.self)
        (d + 2 * destinationStep).storeBytes(of: v2, as: Word.self)
        (d + 3 * destinationStep).storeBytes(of: v3, as: Word.self)
        i += 4
    }
    while i < rows {
        let v = (source + i * sourceStep).loadUnaligned(as: Word.self)
        (destination + i * destinationStep).storeBytes(of: v, as: Word.self)
        i += 1
    }
}
