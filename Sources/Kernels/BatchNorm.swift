// Batch normalization over (N, H, W) per channel, on a shard of the batch and/or space.
//
// N = batch (local), C = channels, P = H*W of the local block.
// x, y, dy, dx [N, C, P]; gamma, beta, dgamma, dbeta, running mean/var [C].
// train: y = gamma * (x - mean) / sqrt(var + eps) + beta, mean and biased var over all
//        shards (merged through the reducer); running var takes the unbiased var, as
//        PyTorch: r = (1 - momentum) * r + momentum * stat.
// eval:  the same with the running statistics.
// Statistics are accumulated in Double whatever T is.

/// Count, mean and sum of squared deviations (M2) of one channel's values.
public struct BatchNormMoments: Hashable, Sendable {
    public var count: Double
    public var mean: Double
    public var m2: Double

    public init(count: Double = 0, mean: Double = 0, m2: Double = 0) {
        self.count = count
        self.mean = mean
        self.m2 = m2
    }

    /// The moments of the union of two sets (Chan, Golub and LeVeque's update): no
    /// cancellation between large sums of squares.
    public static func merged(_ a: BatchNormMoments, _ b: BatchNormMoments) -> BatchNormMoments {
        let n = a.count + b.count
        guard n > 0 else { return BatchNormMoments() }
        let delta = b.mean - a.mean
        return BatchNormMoments(
            count: n, mean: a.mean + delta * (b.count / n), m2: a.m2 + b.m2 + delta * delta * (a.count * b.count / n))
    }
}

/// How shards combine their batch-norm statistics. Single-process use is `.local`; the
/// distributed layer injects collectives (e.g. an allgather of moments merged with
/// `BatchNormMoments.merged` in rank order, and an allreduce-sum).
public struct BatchNormReducer {
    /// Replaces each channel's local moments with those over all shards.
    public var moments: (UnsafeMutableBufferPointer<BatchNormMoments>) -> Void
    /// Replaces each value with its sum over all shards.
    public var sum: (UnsafeMutableBufferPointer<Double>) -> Void

    public init(moments: @escaping (UnsafeMutableBufferPointer<BatchNormMoments>) -> Void,
                sum: @escaping (UnsafeMutableBufferPointer<Double>) -> Void) {
        self.moments = moments
        self.sum = sum
    }

    /// Everything is on this shard: nothing to combine.
    public static var local: BatchNormReducer { BatchNormReducer(moments: { _ in }, sum: { _ in }) }
}

/// Doubles of workspace `batchnorm_backward_train` needs: `2*C + 1`.
public func batchnorm_sums_count(channels c: Int) -> Int { 2 * c + 1 }

/// This shard's moments per channel (two passes over the data: mean, then M2).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func batchnorm_local_moments<T: GEMMScalar>(
    batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<T>,
    moments: UnsafeMutableBufferPointer<BatchNormMoments>
) {
    precondition(x.count == n * c * p && moments.count == c, "batchnorm: x \(x.count) for \(n) x \(c) x \(p), moments \(moments.count)")
    for ch in 0..<c {
        var sum = 0.0
        for img in 0..<n {
            let base = (img * c + ch) * p
            for i in 0..<p { sum += Double(x[base + i]) }
        }
        let count = Double(n * p)
        let mean = count > 0 ? sum / count : 0
        var m2 = 0.0
        for img in 0..<n {
            let base = (img * c + ch) * p
            for i in 0..<p {
                let d = Double(x[base + i]) - mean
                m2 += d * d
            }
        }
        moments[ch] = BatchNormMoments(count: count, mean: mean, m2: m2)
    }
}

/// From the statistics over all shards, per channel: the mean and 1/sqrt(var + eps) the
/// backward pass needs, and the running statistics' update (unbiased variance, as PyTorch).
/// Shared by the NCHW and blocked forward passes.
func batchnorm_update_statistics<T: GEMMScalar>(
    moments: UnsafeBufferPointer<BatchNormMoments>, epsilon: Double, momentum: Double,
    savedMean: UnsafeMutableBufferPointer<T>, savedInvStd: UnsafeMutableBufferPointer<T>,
    runningMean: UnsafeMutableBufferPointer<T>, runningVar: UnsafeMutableBufferPointer<T>
) {
    for (ch, m) in moments.enumerated() {
        precondition(m.count > 0, "batchnorm: channel \(ch) has no values over all shards")
        let variance = m.m2 / m.count
        let invStd = 1 / (variance + epsilon).squareRoot()
        savedMean[ch] = T(m.mean)
        savedInvStd[ch] = T(invStd)
        let unbiased = m.count > 1 ? m.m2 / (m.count - 1) : variance
        runningMean[ch] = T((1 - momentum) * Double(runningMean[ch]) + momentum * m.mean)
        runningVar[ch] = T((1 - momentum) * Double(runningVar[ch]) + momentum * unbiased)
    }
}

/// Training-mode forward: normalizes with the statistics over all shards, saves the
/// mean and 1/sqrt(var + eps) per channel for the backward pass, and updates the running
/// statistics. `moments` [C] is workspace.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func batchnorm_forward_train<T: GEMMScalar>(
    batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<T>,
    gamma: UnsafeBufferPointer<T>, beta: UnsafeBufferPointer<T>, epsilon: Double, momentum: Double,
    runningMean: UnsafeMutableBufferPointer<T>, runningVar: UnsafeMutableBufferPointer<T>,
    y: UnsafeMutableBufferPointer<T>, savedMean: UnsafeMutableBufferPointer<T>, savedInvStd: UnsafeMutableBufferPointer<T>,
    moments: UnsafeMutableBufferPointer<BatchNormMoments>, reducer: BatchNormReducer
) {
    precondition(y.count == x.count && [gamma.count, beta.count, runningMean.count, runningVar.count,
                                        savedMean.count, savedInvStd.count].allSatisfy { $0 == c },
                 "batchnorm: per-channel buffers must hold \(c), y \(y.count) for x \(x.count)")
    batchnorm_local_moments(batch: n, channels: c, plane: p, x: x, moments: moments)
    reducer.moments(moments)
    batchnorm_update_statistics(moments: UnsafeBufferPointer(rebasing: moments[0..<c]), epsilon: epsilon, momentum: momentum,
                                savedMean: savedMean, savedInvStd: savedInvStd,
                                runningMean: runningMean, runningVar: runningVar)
    for ch in 0..<c {
        let scale = gamma[ch] * savedInvStd[ch], shift = beta[ch] - savedMean[ch] * scale
        for img in 0..<n {
            let base = (img * c + ch) * p
            for i in 0..<p { y[base + i] = x[base + i] * scale + shift }
        }
    }
}

/// This shard's sums per channel for the training backward pass: `sums[ch] = sum dy`,
/// `sums[C + ch] = sum dy * xhat`, `sums[2C] = values per channel`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func batchnorm_local_sums<T: GEMMScalar>(
    batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>,
    savedMean: UnsafeBufferPointer<T>, savedInvStd: UnsafeBufferPointer<T>, sums: UnsafeMutableBufferPointer<Double>
) {
    precondition(x.count == n * c * p && dy.count == x.count && sums.count == batchnorm_sums_count(channels: c),
                 "batchnorm backward: x \(x.count), dy \(dy.count) for \(n) x \(c) x \(p), sums \(sums.count)")
    for ch in 0..<c {
        var sdy = 0.0, sdyx = 0.0
        let mean = Double(savedMean[ch]), invStd = Double(savedInvStd[ch])
        for img in 0..<n {
            let base = (img * c + ch) * p
            for i in 0..<p {
                let g = Double(dy[base + i])
                sdy += g
                sdyx += g * (Double(x[base + i]) - mean) * invStd
            }
        }
        sums[ch] = sdy
        sums[c + ch] = sdyx
    }
    sums[2 * c] = Double(n * p)
}

/// Training-mode backward: overwrites `dx` using the sums over all shards, and adds
/// this shard's own parts of `dgamma` and `dbeta` (the caller sums parameter gradients
/// across shards, as for every replicated parameter). `sums` is workspace
/// (`batchnorm_sums_count`).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func batchnorm_backward_train<T: GEMMScalar>(
    batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>,
    gamma: UnsafeBufferPointer<T>, savedMean: UnsafeBufferPointer<T>, savedInvStd: UnsafeBufferPointer<T>,
    dx: UnsafeMutableBufferPointer<T>, dgamma: UnsafeMutableBufferPointer<T>, dbeta: UnsafeMutableBufferPointer<T>,
    sums: UnsafeMutableBufferPointer<Double>, reducer: BatchNormReducer
) {
    precondition(dx.count == x.count && gamma.count == c && dgamma.count == c && dbeta.count == c,
                 "batchnorm backward: dx \(dx.count), x \(x.count), per-channel buffers must hold \(c)")
    batchnorm_local_sums(batch: n, channels: c, plane: p, x: x, dy: dy, savedMean: savedMean,
                         savedInvStd: savedInvStd, sums: sums)
    // dgamma/dbeta take the local parts before the sums become global.
    for ch in 0..<c {
        dbeta[ch] += T(sums[ch])
        dgamma[ch] += T(sums[c + ch])
    }
    reducer.sum(sums)
    let m = sums[2 * c]
    for ch in 0..<c {
        let invStd = Double(savedInvStd[ch]), mean = Double(savedMean[ch])
        let meanDy = sums[ch] / m, meanDyX = sums[c + ch] / m
        let k = Double(gamma[ch]) * invStd
        for img in 0..<n {
            let base = (img * c + ch) * p
            for i in 0..<p {
                let xhat = (Double(x[base + i]) - mean) * invStd
                dx[base + i] = T(k * (Double(dy[base + i]) - meanDy - xhat * meanDyX))
            }
        }
    }
}

/// Evaluation-mode forward with the running statistics.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func batchnorm_forward_eval<T: GEMMScalar>(
    batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<T>,
    gamma: UnsafeBufferPointer<T>, beta: UnsafeBufferPointer<T>, epsilon: Double,
    runningMean: UnsafeBufferPointer<T>, runningVar: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>
) {
    precondition(x.count == n * c * p && y.count == x.count, "batchnorm eval: x \(x.count), y \(y.count) for \(n) x \(c) x \(p)")
    for ch in 0..<c {
        let invStd = 1 / (Double(runningVar[ch]) + epsilon).squareRoot()
        let scale = gamma[ch] * T(invStd), shift = beta[ch] - runningMean[ch] * scale
        for img in 0..<n {
            let base = (img * c + ch) * p
            for i in 0..<p { y[base + i] = x[base + i] * scale + shift }
        }
    }
}

/// Evaluation-mode backward: the statistics are constants, so no reduction is needed.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func batchnorm_backward_eval<T: GEMMScalar>(
    batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>,
    gamma: UnsafeBufferPointer<T>, epsilon: Double, runningMean: UnsafeBufferPointer<T>, runningVar: UnsafeBufferPointer<T>,
    dx: UnsafeMutableBufferPointer<T>, dgamma: UnsafeMutableBufferPointer<T>, dbeta: UnsafeMutableBufferPointer<T>
) {
    precondition(x.count == n * c * p && dy.count == x.count && dx.count == x.count,
                 "batchnorm eval backward: x \(x.count), dy \(dy.count), dx \(dx.count) for \(n) x \(c) x \(p)")
    for ch in 0..<c {
        let invStd = T(1 / (Double(runningVar[ch]) + epsilon).squareRoot())
        var sdy: T = 0, sdyx: T = 0
        for img in 0..<n {
            let base = (img * c + ch) * p
            for i in 0..<p {
                let g = dy[base + i]
                dx[base + i] = g * gamma[ch] * invStd
                sdy += g
                sdyx += g * (x[base + i] - runningMean[ch]) * invStd
            }
        }
        dbeta[ch] += sdy
        dgamma[ch] += sdyx
    }
}
