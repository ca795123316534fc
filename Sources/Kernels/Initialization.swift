import Geometry

/// PyTorch's default bound for convolution and linear parameters: weights use
/// Kaiming-uniform with a = sqrt(5), whose bound gain * sqrt(3 / fan_in) with
/// gain = sqrt(2 / (1 + a^2)) is 1 / sqrt(fan_in); biases use U(-1/sqrt(fan_in), ...)
/// too. fan_in is Cin/groups * KH * KW for a convolution, in-features for a linear layer.
public func defaultInitBound(fanIn: Int) -> Double {
    precondition(fanIn > 0, "fan_in \(fanIn) must be positive")
    return 1 / Double(fanIn).squareRoot()
}

/// Fills a parameter shard with U(-bound, bound) values that are a pure function of
/// (seed, global element index): the shard's `rect` inside the whole parameter of
/// `shape`, so every split initialises the same global tensor.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func uniform_init<T: GEMMScalar>(
    shape: [Int], rect: Rect, bound: Double, seed: UInt64, values: UnsafeMutableBufferPointer<T>
) {
    precondition(values.count == rect.volume, "init: buffer \(values.count) for rect \(rect)")
    forEachRun(shape: shape, rect: rect) { local, global, count in
        for i in 0..<count {
            let u = CounterRandom.uniform(seed: seed, stream: 0x1417, index: UInt64(global + i))
            values[local + i] = T(bound * (2 * u - 1))
        }
    }
}

/// A seed for one named parameter from the run's seed (FNV-1a of the name, mixed), so
/// `conv1.weight` and `conv1.bias` draw different values.
public func parameterSeed(_ seed: UInt64, name: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 {
        h ^= UInt64(byte)
        h = h &* 0x100_0000_01B3
    }
    return CounterRandom.bits(seed: seed, stream: 0x5EED, index: h)
}
