/// ReLU whose output is a strided view (`StridedRuns`): its block inside the consumer's
/// halo'd input of a 2x2 split, so the halo exchange moves only the halo pieces. oneDNN's
/// eltwise takes one descriptor for source and destination, and its jit kernels only
/// dense memory, so these are loops of Kernels' kind, 16 lanes a vector (a blocked
/// layout's runs are whole 16-channel pixels). Same formulas as oneDNN's ReLU with
/// alpha 0, NaN kept: forward `y = x > 0 ? x : x * 0`, backward `dx = y > 0 ? dy : dy * 0`.
///
/// Shapes: `x` (forward) and `dx` (backward) dense, `runCount * length` elements; `y`
/// and `dy` views with their runs (`span` elements), or dense (`StridedRuns.dense`).
extension ActivationLayer {
    static func reluForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, runs: StridedRuns) {
        let length = runs.length
        var dense = 0
        runs.forEachRun { offset in
            let source = UnsafeRawPointer(x + dense), destination = UnsafeMutableRawPointer(y + offset)
            var i = 0
            while i + 16 <= length {
                let v = source.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                destination.storeBytes(of: v.replacing(with: v * 0, where: v .<= 0), toByteOffset: 4 * i,
                                       as: SIMD16<Float>.self)
                i += 16
            }
            while i < length {
                let v = x[dense + i]
                y[offset + i] = v > 0 ? v : v * 0
                i += 1
            }
            dense += length
        }
    }

    /// `y` and `dy` each a view with its runs (the same block, one or both strided).
    static func reluBackward(y: UnsafePointer<Float>, yRuns: StridedRuns, dy: UnsafePointer<Float>,
                             dyRuns: StridedRuns, dx: UnsafeMutablePointer<Float>) {
        precondition(yRuns.length == dyRuns.length && yRuns.runCount == dyRuns.runCount,
                     "ReLU backward: y runs \(yRuns), dy runs \(dyRuns)")
        let length = yRuns.length
        for r in 0..<yRuns.runCount {
            let a = yRuns.offset(ofRun: r), b = dyRuns.offset(ofRun: r), dense = r * length
            let saved = UnsafeRawPointer(y + a), gradient = UnsafeRawPointer(dy + b)
            let destination = UnsafeMutableRawPointer(dx + dense)
            var i = 0
            while i + 16 <= length {
                let s = saved.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                let g = gradient.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                destination.storeBytes(of: g.replacing(with: g * 0, where: .!(s .> 0)), toByteOffset: 4 * i,
                                       as: SIMD16<Float>.self)
                i += 16
            }
            while i < length {
                dx[dense + i] = y[a + i] > 0 ? dy[b + i] : dy[b + i] * 0
                i += 1
            }
        }
    }
}
