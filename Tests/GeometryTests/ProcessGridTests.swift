import Geometry
import Testing
import TestSupport

@Suite struct ProcessGridTests {
    @Test func rankOneOfATwoByTwoGridOwnsLowerLeftQuarter() {
        let grid = ProcessGrid(shape: [1, 1, 2, 2])
        #expect(grid.coordinates(ofRank: 1) == [0, 0, 1, 0])
        let block = grid.block(of: Rect(shape: [256, 16, 64, 64]), rank: 1)
        #expect(block == Rect(origin: [0, 0, 32, 0], size: [256, 16, 32, 32]))
    }

    @Test func coordinatesAndRanksAreInverse() {
        var g = SplitMix64(seed: 7)
        for _ in 0..<100 {
            let grid = ProcessGrid(shape: (0..<Int.random(in: 1...4, using: &g)).map { _ in Int.random(in: 1...4, using: &g) })
            for r in 0..<grid.count { #expect(grid.rank(at: grid.coordinates(ofRank: r)) == r) }
        }
    }
}

@Suite struct ReceptiveFieldTests {
    /// Brute force: every input index some window position of the output range touches.
    func bruteForce(_ out: Range<Int>, k: Int, s: Int, p: Int, d: Int, n: Int) -> Range<Int> {
        var idx: [Int] = []
        for o in out { for j in 0..<k { let i = o * s - p + j * d; if i >= 0 && i < n { idx.append(i) } } }
        guard let lo = idx.min(), let hi = idx.max() else { return 0..<0 }
        return lo..<(hi + 1)
    }

    @Test func matchesBruteForce() {
        var g = SplitMix64(seed: 8)
        for _ in 0..<1000 {
            let n = Int.random(in: 1...20, using: &g), k = Int.random(in: 1...5, using: &g)
            let s = Int.random(in: 1...3, using: &g), p = Int.random(in: 0...2, using: &g), d = Int.random(in: 1...2, using: &g)
            let outLen = windowOutputLength(inputLength: n, kernel: k, stride: s, padding: p, dilation: d)
            guard outLen > 0 else { continue }
            let a = Int.random(in: 0..<outLen, using: &g), b = Int.random(in: a...outLen, using: &g)
            let got = receptiveField(of: a..<b, kernel: k, stride: s, padding: p, dilation: d, inputLength: n)
            let want = bruteForce(a..<b, k: k, s: s, p: p, d: d, n: n)
            #expect(got.isEmpty == want.isEmpty)
            if !want.isEmpty { #expect(got == want, "out \(a)..<\(b) n \(n) k \(k) s \(s) p \(p) d \(d)") }
        }
    }

    @Test func theDumpsTiledLayers() {
        // L0: output rows 32..<64 are tiles 8..<16 of 4 rows; tile stride 2, kernel 10.
        #expect(receptiveField(of: 8..<16, kernel: 10, stride: 2, padding: 0, inputLength: 41) == 16..<40)
        #expect(receptiveField(of: 14..<28, kernel: 10, stride: 2, padding: 0, inputLength: 64) == 28..<64)
        #expect(windowOutputLength(inputLength: 5, kernel: 2, stride: 2, padding: 0, coverAll: true) == 3)
        #expect(windowOutputLength(inputLength: 5, kernel: 2, stride: 2, padding: 0) == 2)
    }
}

@Suite struct SquarestFactorsTests {
    @Test func factorsAreTheMostSquarePair() {
        #expect(ProcessGrid.squarestFactors(4) == (2, 2))
        #expect(ProcessGrid.squarestFactors(6) == (2, 3))
        #expect(ProcessGrid.squarestFactors(7) == (1, 7))
        for n in 1...200 {
            let (a, b) = ProcessGrid.squarestFactors(n)
            #expect(a * b == n && a <= b)
            // No divisor lies strictly between a and sqrt(n).
            for d in (a + 1)..<(b + 1) where d * d <= n { #expect(n % d != 0, "\(n): \(d) is squarer") }
        }
    }
}
