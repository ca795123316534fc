import Kernels
import Testing
import TestSupport

func crossEntropy<T: GEMMScalar>(_ logits: [T], labels: [Int32], classes k: Int, globalBatch: Int) -> (loss: Double, dlogits: [T]) {
    let n = labels.count
    var probs = [T](repeating: 0, count: logits.count), d = probs
    var loss = 0.0
    logits.withUnsafeBufferPointer { lp in labels.withUnsafeBufferPointer { yp in probs.withUnsafeMutableBufferPointer { pp in
        loss = softmax_cross_entropy_forward(batch: n, classes: k, logits: lp, labels: yp, globalBatch: globalBatch, probs: pp)
        d.withUnsafeMutableBufferPointer {
            softmax_cross_entropy_backward(batch: n, classes: k, probs: UnsafeBufferPointer(pp), labels: yp, globalBatch: globalBatch, dlogits: $0)
        }
    } } }
    return (loss, d)
}

func svm<T: GEMMScalar>(_ scores: [T], labels: [Int32], classes k: Int, globalBatch: Int) -> (loss: Double, dscores: [T]) {
    var d = [T](repeating: 0, count: scores.count)
    var loss = 0.0
    scores.withUnsafeBufferPointer { sp in labels.withUnsafeBufferPointer { yp in
        loss = multiclass_svm_forward(batch: labels.count, classes: k, scores: sp, labels: yp, globalBatch: globalBatch)
        d.withUnsafeMutableBufferPointer {
            multiclass_svm_backward(batch: labels.count, classes: k, scores: sp, labels: yp, globalBatch: globalBatch, dscores: $0)
        }
    } }
    return (loss, d)
}

@Suite struct LossesTests {
    let labels: [Int32] = [2, 0, 4, 1, 3, 3]

    @Test func crossEntropyGradientAndStability() {
        var rng = SplitMix64(seed: 91)
        let logits: [Double] = randomValues(6 * 5, &rng).map { 4 * $0 }
        let a = crossEntropy(logits, labels: labels, classes: 5, globalBatch: 6)
        let numeric = numericGradient(logits) { crossEntropy($0, labels: labels, classes: 5, globalBatch: 6).loss }
        expectGradient("cross-entropy dlogits", analytic: a.dlogits, numeric: numeric, bound: doubleGradientBound)
        expectGradient("cross-entropy dlogits (Float)", analytic: crossEntropy(toFloat(logits), labels: labels, classes: 5, globalBatch: 6).dlogits,
                       numeric: numeric, bound: floatGradientBound)
        // Logits of 1e4 do not overflow: loss is 0 for the right class, 2e4 for the wrong one.
        let big: [Float] = [1e4, 0, -1e4, 1e4, 0, -1e4]
        let right = crossEntropy(big, labels: [0, 2], classes: 3, globalBatch: 2)
        #expect(right.loss.isFinite && abs(right.loss - 1e4) < 1e-2, "loss \(right.loss)")
        #expect(right.dlogits.allSatisfy { $0.isFinite })
        // Shards of the batch sum to the whole batch's mean.
        let first = crossEntropy(Array(logits[0..<10]), labels: Array(labels[0..<2]), classes: 5, globalBatch: 6).loss
        let rest = crossEntropy(Array(logits[10...]), labels: Array(labels[2...]), classes: 5, globalBatch: 6).loss
        #expect(abs(first + rest - a.loss) <= 1e-12 * abs(a.loss))
        // One row against the formula.
        let row = Array(logits[0..<5])
        let lse = Foundation_log(row.map { Foundation_exp($0) }.reduce(0, +))
        #expect(abs(crossEntropy(row, labels: [2], classes: 5, globalBatch: 1).loss - (lse - row[2])) < 1e-12)
    }

    @Test func svmGradientAndValue() {
        var rng = SplitMix64(seed: 92)
        let scores: [Double] = randomValues(6 * 5, &rng)
        let a = svm(scores, labels: labels, classes: 5, globalBatch: 6)
        let numeric = numericGradient(scores) { svm($0, labels: labels, classes: 5, globalBatch: 6).loss }
        expectGradient("multiclass SVM dscores", analytic: a.dscores, numeric: numeric, bound: doubleGradientBound)
        // sum_{j != y} max(0, 1 - s_y + s_j) / K: (0 + 0.5 + 1.5) / 3.
        #expect(svm([2.0, 1.5, 2.5], labels: [0], classes: 3, globalBatch: 1).loss == 2.0 / 3)
        // Shards of the batch sum to the whole batch's mean.
        let parts = svm(Array(scores[0..<15]), labels: Array(labels[0..<3]), classes: 5, globalBatch: 6).loss
            + svm(Array(scores[15...]), labels: Array(labels[3...]), classes: 5, globalBatch: 6).loss
        #expect(abs(parts - a.loss) <= 1e-12 * abs(a.loss))
    }

    @Test func accuracyCountsArgmaxHits() {
        let scores: [Float] = [0.1, 0.9, 0.0, 0.5, 0.5, 0.2, -1, -2, -0.5]
        let hits = scores.withUnsafeBufferPointer { sp in
            [Int32(1), 1, 2].withUnsafeBufferPointer { accuracy_count(batch: 3, classes: 3, scores: sp, labels: $0) }
        }
        #expect(hits == 2)   // row 1 ties 0 and 1: the first maximum (0) is the prediction
    }
}

#if canImport(Glibc)
import Glibc
func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }
func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
#endif
