@testable import Kernels
import Testing

// The row-at-a-time noise, on AVX-512 and one value at a time, against the per-value
// formula in Double: the same bits.

@Suite struct CounterRandomTests {
    /// `(a + b + c) * 2^-21 - 1.5` of one draw, in Double as SyntheticDataset computed it.
    private func centeredSum(seed: UInt64, stream: UInt64, index: UInt64) -> Double {
        let bits = CounterRandom.bits(seed: seed, stream: stream, index: index)
        let sum = Double(bits >> 43) + Double((bits >> 22) & 0x1F_FFFF) + Double((bits >> 1) & 0x1F_FFFF)
        return sum * 0x1p-21 - 1.5
    }

    @Test func centeredSumsOfThreeAreThePerValueFormulaExactly() {
        // Runs of several lengths, from indices that wrap past 2^64, on several streams.
        let runs: [(seed: UInt64, stream: UInt64, first: UInt64, count: Int)] = [
            (0, 0, 0, 1), (17, 0x5359_4E54_4E4F_4953, 1000, 1024), (3, 5, 77, 37),
            (0xFFFF_FFFF_FFFF_FFFF, 1, UInt64.max - 20, 45), (42, 0x1417, 1 << 40, 8),
        ]
        var values: [Double] = []
        for r in runs {
            let expected = (0..<r.count).map { centeredSum(seed: r.seed, stream: r.stream, index: r.first &+ UInt64($0)) }
            for vector in CPUFeatures.avx512 ? [false, true] : [false] {
                // One past the end is a guard: the vector loop's last partial step must not write it.
                var out = [Float](repeating: .nan, count: r.count + 1)
                out.withUnsafeMutableBufferPointer {
                    CounterRandom.centeredSumsOfThree(seed: r.seed, stream: r.stream, first: r.first,
                                                      into: UnsafeMutableBufferPointer(rebasing: $0[0..<r.count]), vector: vector)
                }
                #expect(out[..<r.count].map(Double.init) == expected && out[r.count].isNaN,
                        "seed \(r.seed) stream \(r.stream) first \(r.first) vector \(vector)")
            }
            var viaPublic = [Float](repeating: .nan, count: r.count)
            viaPublic.withUnsafeMutableBufferPointer {
                CounterRandom.centeredSumsOfThree(seed: r.seed, stream: r.stream, first: r.first, into: $0)
            }
            #expect(viaPublic.map(Double.init) == expected)
            values += expected
        }
        // Not a constant: the values fill [-1.5, 1.5) with mean about 0, standard deviation about 1/2.
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(values.allSatisfy { $0 >= -1.5 && $0 < 1.5 } && abs(mean) < 0.05 && abs(std - 0.5) < 0.05, "mean \(mean), std \(std)")

        // An empty run writes nothing.
        CounterRandom.centeredSumsOfThree(seed: 1, stream: 2, first: 3, into: UnsafeMutableBufferPointer(start: nil, count: 0))
    }
}
