import Geometry
import Kernels
import Testing
import TestSupport

func dropout<T: GEMMScalar>(_ x: [T], shape: [Int], rect: Rect, p: Double, seed: UInt64, step: UInt64, backward: Bool = false) -> [T] {
    mapKernel(x) { xp, yp in
        if backward {
            dropout_backward(shape: shape, rect: rect, p: p, seed: seed, step: step, dy: xp, dx: yp)
        } else {
            dropout_forward(shape: shape, rect: rect, p: p, seed: seed, step: step, x: xp, y: yp)
        }
    }
}

@Suite struct DropoutTests {
    let shape = [3, 4, 9, 7]

    @Test func maskDoesNotDependOnTheSplit() {
        var rng = SplitMix64(seed: 71)
        let x: [Float] = randomValues(shape.reduce(1, *), &rng)
        let whole = Rect(shape: shape)
        let y = dropout(x, shape: shape, rect: whole, p: 0.3, seed: 5, step: 2)
        for grid in shardGrids + [ProcessGrid(shape: [2, 3, 1, 1])] {
            var yA = [Float](repeating: .nan, count: x.count)
            for rank in 0..<grid.count {
                let r = grid.block(of: whole, rank: rank)
                putBlock(dropout(extract(x, shape: shape, rect: r), shape: shape, rect: r, p: 0.3, seed: 5, step: 2),
                         into: &yA, shape: shape, rect: r)
            }
            #expect(yA == y, "dropout on \(grid) differs from the whole tensor")
        }
        // Kept fraction near 1 - p; kept values scaled by 1/(1-p).
        let kept = zip(x, y).filter { $0.1 != 0 }
        let fraction = Double(kept.count) / Double(x.count)
        #expect(abs(fraction - 0.7) < 0.05, "kept \(fraction)")
        #expect(kept.allSatisfy { abs($0.1 - $0.0 / 0.7) <= 1e-6 })
        // Another step or seed draws another mask; p = 0 keeps all, p = 1 drops all.
        #expect(dropout(x, shape: shape, rect: whole, p: 0.3, seed: 5, step: 3) != y)
        #expect(dropout(x, shape: shape, rect: whole, p: 0.3, seed: 6, step: 2) != y)
        #expect(dropout(x, shape: shape, rect: whole, p: 0, seed: 5, step: 2) == x)
        #expect(dropout(x, shape: shape, rect: whole, p: 1, seed: 5, step: 2).allSatisfy { $0 == 0 })
    }

    @Test func gradientMatchesCentralDifferences() {
        let shape = [2, 3, 5, 3], whole = Rect(shape: shape)
        var rng = SplitMix64(seed: 72)
        let x: [Double] = randomValues(shape.reduce(1, *), &rng), r: [Double] = randomValues(x.count, &rng)
        let analytic = dropout(r, shape: shape, rect: whole, p: 0.4, seed: 9, step: 1, backward: true)
        let numeric = numericGradient(x) { dot(r, dropout($0, shape: shape, rect: whole, p: 0.4, seed: 9, step: 1)) }
        expectGradient("dropout dx", analytic: analytic, numeric: numeric, bound: doubleGradientBound)
    }
}

@Suite struct InitializationTests {
    @Test func uniformInitIsPyTorchsBoundAndSplitIndependent() {
        let shape = [8, 3, 5, 5]   // conv weights: fan_in = 3*5*5
        let bound = defaultInitBound(fanIn: 75)
        #expect(abs(bound - 1 / 75.0.squareRoot()) < 1e-15)
        let seed = parameterSeed(42, name: "conv1.weight")
        var w = [Float](repeating: 0, count: shape.reduce(1, *))
        w.withUnsafeMutableBufferPointer { uniform_init(shape: shape, rect: Rect(shape: shape), bound: bound, seed: seed, values: $0) }
        #expect(w.allSatisfy { abs(Double($0)) <= bound })
        let mean = w.reduce(0, +) / Float(w.count)
        let variance = w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)
        #expect(abs(Double(mean)) < 0.1 * bound && abs(Double(variance) - bound * bound / 3) < 0.1 * bound * bound / 3)
        for grid in [ProcessGrid(shape: [2, 1, 2, 1]), ProcessGrid(shape: [3, 1, 1, 1])] {
            var wA = [Float](repeating: .nan, count: w.count)
            for rank in 0..<grid.count {
                let r = grid.block(of: Rect(shape: shape), rank: rank)
                var local = [Float](repeating: 0, count: r.volume)
                local.withUnsafeMutableBufferPointer { uniform_init(shape: shape, rect: r, bound: bound, seed: seed, values: $0) }
                putBlock(local, into: &wA, shape: shape, rect: r)
            }
            #expect(wA == w, "init on \(grid) differs from the whole tensor")
        }
        #expect(parameterSeed(42, name: "conv1.bias") != seed && parameterSeed(43, name: "conv1.weight") != seed)
    }
}
