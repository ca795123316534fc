import CKernels

/// Random numbers that are a pure function of (seed, stream, index): no state, so the
/// value for a global element index is the same however the tensor is split and in
/// whatever order shards run. The mixing function is SplitMix64's finalizer (Steele,
/// Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
public enum CounterRandom {
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits for element `index` of stream `stream` (e.g. a training step).
    @inline(__always)
    public static func bits(seed: UInt64, stream: UInt64, index: UInt64) -> UInt64 {
        mix(mix(seed ^ mix(stream)) ^ index)
    }

    /// The per-stream half of `bits`: `bits(seed:stream:index:)` is `mix(key ^ index)`
    /// with this key, so a run of indices pays one mix per value.
    @inline(__always)
    static func key(seed: UInt64, stream: UInt64) -> UInt64 { mix(seed ^ mix(stream)) }

    /// Noise for `count` consecutive indices from `first` of stream `stream`: value `i` is
    /// `(a + b + c) / 2^21 - 1.5`, where a, b, c are bits 43..<64, 22..<43 and 1..<22 of
    /// `bits(seed:stream:index: first + i)`: three 21-bit uniforms on [0, 1) from one draw,
    /// summed and centred (mean 0, standard deviation 1/2).
    ///
    /// Exact in Float: the sum is below 3 * 2^21 < 2^24, and the result is a multiple of
    /// 2^-21 of magnitude at most 1.5, so it needs at most 22 significant bits; the same
    /// value as the formula evaluated in Double, bit for bit.
    ///
    /// One call per row, and the stream's key mixed once: the mixing is then the whole
    /// cost (two 64-bit multiplies per value; called per value across the module
    /// boundary, `bits` was not inlined and mixed three times). Eight values at a time on
    /// AVX-512 (CKernels), else one at a time.
    public static func centeredSumsOfThree(
        seed: UInt64, stream: UInt64, first: UInt64, into out: UnsafeMutableBufferPointer<Float>
    ) {
        centeredSumsOfThree(seed: seed, stream: stream, first: first, into: out, vector: CPUFeatures.avx512)
    }

    /// `vector` false: the one-at-a-time loop (the AVX-512 one's twin in the tests).
    static func centeredSumsOfThree(
        seed: UInt64, stream: UInt64, first: UInt64, into out: UnsafeMutableBufferPointer<Float>, vector: Bool
    ) {
        guard let p = out.baseAddress else { return }
        let k = key(seed: seed, stream: stream)
        if vector {
            distconv_centered_sums_of_three_avx512(k, first, p, out.count)
            return
        }
        for i in 0..<out.count {
            let b = mix(k ^ (first &+ UInt64(truncatingIfNeeded: i)))
            let sum = (b >> 43) &+ ((b >> 22) & 0x1F_FFFF) &+ ((b >> 1) & 0x1F_FFFF)
            p[i] = Float(Int32(truncatingIfNeeded: sum)) * 0x1p-21 - 1.5
        }
    }

    /// A uniform double in [0, 1) with 53 random bits.
    @inline(__always)
    public static func uniform(seed: UInt64, stream: UInt64, index: UInt64) -> Double {
        Double(bits(seed: seed, stream: stream, index: index) >> 11) * 0x1p-53
    }
}

/// Calls `body(localOffset, globalIndex, count)` for each contiguous run (last
/// dimension) of `rect` inside a row-major tensor of `shape`: the run's offset in a
/// buffer holding exactly `rect`, and the row-major index of its first element in the
/// whole tensor.
func forEachRun(shape: [Int], rect: Rect, _ body: (Int, Int, Int) -> Void) {
    let rank = shape.count
    precondition(rect.dimensions == rank && Rect(shape: shape).contains(rect), "rect \(rect) outside tensor \(shape)")
    guard !rect.isEmpty else { return }
    if rank == 0 { body(0, 0, 1); return }
    let run = rect.size[rank - 1]
    var point = rect.origin
    var local = 0
    while true {
        var global = 0
        for d in 0..<rank { global = global * shape[d] + point[d] }
        body(local, global, run)
        local += run
        var d = rank - 2
        while d >= 0 {
            point[d] += 1
            if point[d] < rect.origin[d] + rect.size[d] { break }
            point[d] = rect.origin[d]
            d -= 1
        }
        if d < 0 { return }
    }
}

import Geometry
