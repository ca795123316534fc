import Kernels
import Testing
import TestSupport

@Suite struct ActivationLayoutTests {
    @Test func countsPadTheChannelsToWholeBlocks() {
        #expect(ActivationLayout.nchw.count(n: 2, c: 5, h: 3, w: 4) == 120)
        #expect(ActivationLayout.blocked(16).count(n: 2, c: 5, h: 3, w: 4) == 2 * 16 * 12)
        #expect(ActivationLayout.blocked(8).count(n: 2, c: 17, h: 3, w: 4) == 2 * 24 * 12)
        #expect(ActivationLayout.blocked(16).offset(n: 1, c: 17, y: 2, x: 3, channels: 20, height: 3, width: 4)
                == (((1 * 2 + 1) * 3 + 2) * 4 + 3) * 16 + 1)
    }

    /// oneDNN's reorder against the storage formula (LayoutSupport's loops), both ways,
    /// with a partial last block whose padding must come out zero.
    @Test(arguments: [ActivationLayout.blocked(8), .blocked(16)])
    func reorderMatchesTheStorageFormula(_ layout: ActivationLayout) {
        let n = 2, c = 11, h = 3, w = 5
        var rng = SplitMix64(seed: 2)
        let x: [Float] = randomValues(n * c * h * w, &rng)
        var blocked = [Float](repeating: .nan, count: layout.count(n: n, c: c, h: h, w: w))
        let there = ActivationReorder.cached(n: n, c: c, h: h, w: w, from: .nchw, to: layout)
        x.withUnsafeBufferPointer { xp in blocked.withUnsafeMutableBufferPointer { there(xp, $0) } }
        #expect(blocked == toLayout(x, n: n, c: c, h: h, w: w, layout))
        var back = [Float](repeating: .nan, count: x.count)
        let reorderBack = ActivationReorder(n: n, c: c, h: h, w: w, from: layout, to: .nchw)
        blocked.withUnsafeBufferPointer { bp in back.withUnsafeMutableBufferPointer { reorderBack(bp, $0) } }
        #expect(back == x)
        #expect(ActivationReorder.cached(n: n, c: c, h: h, w: w, from: .nchw, to: layout) === there)
    }

    /// OpenMP's count is per calling thread (tests run on several), so this sets and
    /// reads it on one.
    @Test func threadsCanBeSet() {
        let initial = DNNLEngine.threads
        #expect(DNNLEngine.setThreads(2))
        #expect(DNNLEngine.threads == 2)
        DNNLEngine.setThreads(initial)
        #expect(DNNLEngine.threads == initial)
    }
}
