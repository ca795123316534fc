import Geometry

// Inverted dropout on a shard: y = x * keep / (1 - p), keep = u(seed, step, i) >= p for
// the element's row-major index i in the whole tensor of `shape`, so the mask does not
// depend on the split. x, y, dy, dx hold exactly the shard's `rect` (row-major).

/// Dropout forward with drop probability `p` in [0, 1]; p = 1 drops everything.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func dropout_forward<T: GEMMScalar>(
    shape: [Int], rect: Rect, p: Double, seed: UInt64, step: UInt64,
    x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>
) {
    dropoutApply(shape: shape, rect: rect, p: p, seed: seed, step: step, x, y, what: "dropout")
}

/// Dropout backward: the same mask and scale applied to `dy`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func dropout_backward<T: GEMMScalar>(
    shape: [Int], rect: Rect, p: Double, seed: UInt64, step: UInt64,
    dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>
) {
    dropoutApply(shape: shape, rect: rect, p: p, seed: seed, step: step, dy, dx, what: "dropout backward")
}

@inline(__always)
private func dropoutApply<T: GEMMScalar>(
    shape: [Int], rect: Rect, p: Double, seed: UInt64, step: UInt64,
    _ src: UnsafeBufferPointer<T>, _ dst: UnsafeMutableBufferPointer<T>, what: String
) {
    precondition(p >= 0 && p <= 1, "\(what): probability \(p) outside [0, 1]")
    precondition(src.count == rect.volume && dst.count == src.count,
                 "\(what): buffers \(src.count), \(dst.count) for rect \(rect) of \(rect.volume)")
    if p >= 1 { dst.update(repeating: 0); return }
    let scale = T(1 / (1 - p))
    forEachRun(shape: shape, rect: rect) { local, global, count in
        for i in 0..<count {
            let u = CounterRandom.uniform(seed: seed, stream: step, index: UInt64(global + i))
            dst[local + i] = u >= p ? src[local + i] * scale : 0
        }
    }
}
