// Losses and metrics over a shard of the batch.
//
// N = batch rows on this shard, K = classes; logits/scores [N, K], labels [N] in 0..<K.
// Losses are means over the global batch `globalBatch`: each shard returns its rows'
// share (sum / globalBatch), so the shards' values sum to the whole batch's loss.

@inline(__always)
private func checkLabels(_ what: String, n: Int, k: Int, scores: Int, labels: UnsafeBufferPointer<Int32>, globalBatch: Int) {
    precondition(scores == n * k && labels.count == n && globalBatch >= n && k > 0,
                 "\(what): scores \(scores), labels \(labels.count) for N \(n), K \(k), global batch \(globalBatch)")
    for i in 0..<n {
        precondition(labels[i] >= 0 && Int(labels[i]) < k, "\(what): label \(labels[i]) of row \(i) outside 0..<\(k)")
    }
}

/// Softmax cross-entropy: returns this shard's share of the mean of
/// `logsumexp(logits[i]) - logits[i, label[i]]`, and writes the softmax to `probs`.
/// The maximum is subtracted before exponentiating, so logits of 1e4 do not overflow.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func softmax_cross_entropy_forward<T: GEMMScalar>(
    batch n: Int, classes k: Int, logits: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>,
    globalBatch: Int, probs: UnsafeMutableBufferPointer<T>
) -> Double {
    checkLabels("softmax cross-entropy", n: n, k: k, scores: logits.count, labels: labels, globalBatch: globalBatch)
    precondition(probs.count == logits.count, "softmax cross-entropy: probs \(probs.count), logits \(logits.count)")
    var total = 0.0
    for i in 0..<n {
        let row = i * k
        var m = logits[row]
        for j in 1..<k { m = Swift.max(m, logits[row + j]) }
        var sum: T = 0
        for j in 0..<k {
            let e = T.exp(logits[row + j] - m)
            probs[row + j] = e
            sum += e
        }
        for j in 0..<k { probs[row + j] /= sum }
        // -log p_label = m + log(sum) - logit_label, computed in the shifted domain.
        total += Double(T.log(sum)) - Double(logits[row + Int(labels[i])] - m)
    }
    return total / Double(globalBatch)
}

/// Softmax cross-entropy gradient: `dlogits = dloss * (probs - onehot(label)) / globalBatch`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func softmax_cross_entropy_backward<T: GEMMScalar>(
    batch n: Int, classes k: Int, probs: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>,
    globalBatch: Int, dloss: T = 1, dlogits: UnsafeMutableBufferPointer<T>
) {
    checkLabels("softmax cross-entropy backward", n: n, k: k, scores: probs.count, labels: labels, globalBatch: globalBatch)
    precondition(dlogits.count == probs.count, "softmax cross-entropy backward: dlogits \(dlogits.count), probs \(probs.count)")
    let scale = dloss / T(globalBatch)
    for i in 0..<n {
        for j in 0..<k { dlogits[i * k + j] = probs[i * k + j] * scale }
        dlogits[i * k + Int(labels[i])] -= scale
    }
}

/// Multiclass SVM (hinge, margin 1), as PyTorch's `MultiMarginLoss`:
/// `sum_{j != y} max(0, 1 - s[y] + s[j]) / K`, averaged over the global batch.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func multiclass_svm_forward<T: GEMMScalar>(
    batch n: Int, classes k: Int, scores: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>, globalBatch: Int
) -> Double {
    checkLabels("multiclass SVM", n: n, k: k, scores: scores.count, labels: labels, globalBatch: globalBatch)
    var total = 0.0
    for i in 0..<n {
        let y = Int(labels[i]), sy = scores[i * k + y]
        for j in 0..<k where j != y { total += Double(Swift.max(0, 1 - sy + scores[i * k + j])) }
    }
    return total / Double(k) / Double(globalBatch)
}

/// Multiclass SVM gradient (overwrites `dscores`). At a margin of exactly zero the
/// subgradient taken is 0.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func multiclass_svm_backward<T: GEMMScalar>(
    batch n: Int, classes k: Int, scores: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>,
    globalBatch: Int, dloss: T = 1, dscores: UnsafeMutableBufferPointer<T>
) {
    checkLabels("multiclass SVM backward", n: n, k: k, scores: scores.count, labels: labels, globalBatch: globalBatch)
    precondition(dscores.count == scores.count, "multiclass SVM backward: dscores \(dscores.count), scores \(scores.count)")
    let g = dloss / T(k) / T(globalBatch)
    for i in 0..<n {
        let y = Int(labels[i]), sy = scores[i * k + y]
        dscores[i * k + y] = 0
        for j in 0..<k where j != y {
            let active = 1 - sy + scores[i * k + j] > 0
            dscores[i * k + j] = active ? g : 0
            if active { dscores[i * k + y] -= g }
        }
    }
}

/// Rows whose largest score (the first, on ties) is at the label.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func accuracy_count<T: GEMMScalar>(
    batch n: Int, classes k: Int, scores: UnsafeBufferPointer<T>, labels: UnsafeBufferPointer<Int32>
) -> Int {
    checkLabels("accuracy", n: n, k: k, scores: scores.count, labels: labels, globalBatch: n)
    var correct = 0
    for i in 0..<n {
        var best = 0
        for j in 1..<k where scores[i * k + j] > scores[i * k + best] { best = j }
        if best == Int(labels[i]) { correct += 1 }
    }
    return correct
}
