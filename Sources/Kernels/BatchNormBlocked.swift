// Batch normalization on Float activations in a blocked layout (BatchNorm.swift's
// formulas and reducer), vectorised over the b channels of a block.
//
// N = batch (local), C = channels, P = H*W of the local block, b = channels per block;
// x, y, dy, dx [N, ceil(C/b), P, b]; per-channel buffers [C]. oneDNN's training batch
// norm computes its statistics itself and cannot take the global ones the distributed
// layer gathers, so these loops do it: one pass per statistic over contiguous b-wide
// pixels, partial sums in Float over runs of 64 pixels, then in Double (the statistics'
// precision in BatchNorm.swift). Padded channels get scale 0 and shift 0, so y and dx
// keep them zero. `.nchw` runs BatchNorm.swift's kernels.

/// Pixels summed in Float before a partial sum moves to Double.
private let floatRun = 64

@inline(__always)
private func load<V: SIMD>(_ p: UnsafePointer<Float>, _ i: Int, as _: V.Type) -> V where V.Scalar == Float {
    UnsafeRawPointer(p + i * V.scalarCount).loadUnaligned(as: V.self)
}

@inline(__always)
private func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) where V.Scalar == Float {
    UnsafeMutableRawPointer(p + i * V.scalarCount).storeBytes(of: v, as: V.self)
}

/// Per-lane values of channels `cb*b ..< cb*b + b`, 0 past the last channel.
@inline(__always)
private func lanes<V: SIMD>(_ cb: Int, _ c: Int, as _: V.Type, _ value: (Int) -> Float) -> V where V.Scalar == Float {
    var v = V()
    for l in 0..<V.scalarCount where cb * V.scalarCount + l < c { v[l] = value(cb * V.scalarCount + l) }
    return v
}

/// Adds, per lane, the sum over the P pixels of each image of channel block `cb` of
/// `term(x-pixel, other-pixel)` into `acc` [b].
@inline(__always)
private func accumulate<V: SIMD>(
    _: V.Type, n: Int, blocks: Int, p: Int, cb: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into acc: UnsafeMutablePointer<Double>, _ term: (V, V) -> V
) where V.Scalar == Float {
    for img in 0..<n {
        let base = (img * blocks + cb) * p
        var i = 0
        while i < p {
            let end = Swift.min(i + floatRun, p)
            var s0 = V(), s1 = V()
            while i + 1 < end {
                s0 += term(load(a, base + i, as: V.self), load(b, base + i, as: V.self))
                s1 += term(load(a, base + i + 1, as: V.self), load(b, base + i + 1, as: V.self))
                i += 2
            }
            if i < end {
                s0 += term(load(a, base + i, as: V.self), load(b, base + i, as: V.self))
                i += 1
            }
            s0 += s1
            for l in 0..<V.scalarCount { acc[l] += Double(s0[l]) }
        }
    }
}

/// y = x * scale + shift per lane over every pixel.
@inline(__always)
private func affine<V: SIMD>(
    _: V.Type, n: Int, blocks: Int, p: Int, cb: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, scale: V, shift: V
) where V.Scalar == Float {
    for img in 0..<n {
        let base = (img * blocks + cb) * p
        for i in base..<(base + p) { store(load(x, i, as: V.self) * scale + shift, y, i) }
    }
}

private func momentsBlocked<V: SIMD>(
    _: V.Type, n: Int, c: Int, p: Int, x: UnsafePointer<Float>, moments: UnsafeMutablePointer<BatchNormMoments>
) where V.Scalar == Float {
    let b = V.scalarCount, blocks = (c + b - 1) / b, count = Double(n * p)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * b) { acc in
        let sum = acc.baseAddress!, m2 = sum + b
        for cb in 0..<blocks {
            sum.update(repeating: 0, count: 2 * b)
            accumulate(V.self, n: n, blocks: blocks, p: p, cb: cb, x, x, into: sum) { v, _ in v }
            let mean = lanes(cb, c, as: V.self) { Float(count > 0 ? sum[$0 - cb * b] / count : 0) }
            accumulate(V.self, n: n, blocks: blocks, p: p, cb: cb, x, x, into: m2) { v, _ in
                let d = v - mean
                return d * d
            }
            for l in 0..<b where cb * b + l < c {
                // M2 about the Float mean, corrected to the Double mean: sum (x - m')^2
                // = M2 + n (m - m')^2 with m' the rounded mean.
                let m = count > 0 ? sum[l] / count : 0, shift = m - Double(mean[l])
                moments[cb * b + l] = BatchNormMoments(count: count, mean: m, m2: Swift.max(0, m2[l] - count * shift * shift))
            }
        }
    }
}

/// `batchnorm_local_moments` for `layout`.
public func batchnorm_local_moments(
    layout: ActivationLayout, batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<Float>,
    moments: UnsafeMutableBufferPointer<BatchNormMoments>
) {
    precondition(x.count == layout.count(n: n, c: c, h: p, w: 1) && moments.count == c,
                 "batchnorm: x \(x.count) for \(n) x \(c) x \(p) in \(layout), moments \(moments.count)")
    guard let xp = x.baseAddress, let mp = moments.baseAddress else { return }
    switch layout.blockSize {
    case 1: batchnorm_local_moments(batch: n, channels: c, plane: p, x: x, moments: moments)
    case 4: momentsBlocked(SIMD4<Float>.self, n: n, c: c, p: p, x: xp, moments: mp)
    case 8: momentsBlocked(SIMD8<Float>.self, n: n, c: c, p: p, x: xp, moments: mp)
    default: momentsBlocked(SIMD16<Float>.self, n: n, c: c, p: p, x: xp, moments: mp)
    }
}

/// `batchnorm_forward_train` for `layout`.
public func batchnorm_forward_train(
    layout: ActivationLayout, batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<Float>,
    gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>, epsilon: Double, momentum: Double,
    runningMean: UnsafeMutableBufferPointer<Float>, runningVar: UnsafeMutableBufferPointer<Float>,
    y: UnsafeMutableBufferPointer<Float>, savedMean: UnsafeMutableBufferPointer<Float>, savedInvStd: UnsafeMutableBufferPointer<Float>,
    moments: UnsafeMutableBufferPointer<BatchNormMoments>, reducer: BatchNormReducer
) {
    guard layout.blockSize > 1 else {
        batchnorm_forward_train(batch: n, channels: c, plane: p, x: x, gamma: gamma, beta: beta, epsilon: epsilon,
                                momentum: momentum, runningMean: runningMean, runningVar: runningVar, y: y,
                                savedMean: savedMean, savedInvStd: savedInvStd, moments: moments, reducer: reducer)
        return
    }
    precondition(y.count == x.count && [gamma.count, beta.count, runningMean.count, runningVar.count,
                                        savedMean.count, savedInvStd.count].allSatisfy { $0 == c },
                 "batchnorm: per-channel buffers must hold \(c), y \(y.count) for x \(x.count)")
    batchnorm_local_moments(layout: layout, batch: n, channels: c, plane: p, x: x, moments: moments)
    reducer.moments(moments)
    batchnorm_update_statistics(moments: UnsafeBufferPointer(rebasing: moments[0..<c]), epsilon: epsilon, momentum: momentum,
                                savedMean: savedMean, savedInvStd: savedInvStd,
                                runningMean: runningMean, runningVar: runningVar)
    applyAffine(layout, n: n, c: c, p: p, x: x, y: y, scale: { gamma[$0] * savedInvStd[$0] },
                shift: { beta[$0] - savedMean[$0] * gamma[$0] * savedInvStd[$0] })
}

/// `batchnorm_forward_eval` for `layout`.
public func batchnorm_forward_eval(
    layout: ActivationLayout, batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<Float>,
    gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>, epsilon: Double,
    runningMean: UnsafeBufferPointer<Float>, runningVar: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>
) {
    guard layout.blockSize > 1 else {
        batchnorm_forward_eval(batch: n, channels: c, plane: p, x: x, gamma: gamma, beta: beta, epsilon: epsilon,
                               runningMean: runningMean, runningVar: runningVar, y: y)
        return
    }
    precondition(x.count == layout.count(n: n, c: c, h: p, w: 1) && y.count == x.count,
                 "batchnorm eval: x \(x.count), y \(y.count) for \(n) x \(c) x \(p) in \(layout)")
    func scale(_ ch: Int) -> Float { gamma[ch] * Float(1 / (Double(runningVar[ch]) + epsilon).squareRoot()) }
    applyAffine(layout, n: n, c: c, p: p, x: x, y: y, scale: scale, shift: { beta[$0] - runningMean[$0] * scale($0) })
}

private func applyAffine(
    _ layout: ActivationLayout, n: Int, c: Int, p: Int, x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>,
    scale: (Int) -> Float, shift: (Int) -> Float
) {
    guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
    func run<V: SIMD>(_: V.Type) where V.Scalar == Float {
        let blocks = (c + V.scalarCount - 1) / V.scalarCount
        for cb in 0..<blocks {
            affine(V.self, n: n, blocks: blocks, p: p, cb: cb, x: xp, y: yp,
                   scale: lanes(cb, c, as: V.self, scale), shift: lanes(cb, c, as: V.self, shift))
        }
    }
    switch layout.blockSize {
    case 4: run(SIMD4<Float>.self)
    case 8: run(SIMD8<Float>.self)
    default: run(SIMD16<Float>.self)
    }
}

/// `batchnorm_local_sums` for `layout`.
public func batchnorm_local_sums(
    layout: ActivationLayout, batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<Float>,
    dy: UnsafeBufferPointer<Float>, savedMean: UnsafeBufferPointer<Float>, savedInvStd: UnsafeBufferPointer<Float>,
    sums: UnsafeMutableBufferPointer<Double>
) {
    guard layout.blockSize > 1 else {
        batchnorm_local_sums(batch: n, channels: c, plane: p, x: x, dy: dy, savedMean: savedMean, savedInvStd: savedInvStd, sums: sums)
        return
    }
    precondition(x.count == layout.count(n: n, c: c, h: p, w: 1) && dy.count == x.count
                 && sums.count == batchnorm_sums_count(channels: c),
                 "batchnorm backward: x \(x.count), dy \(dy.count) for \(n) x \(c) x \(p) in \(layout), sums \(sums.count)")
    guard let xp = x.baseAddress, let dyp = dy.baseAddress else { return }
    func run<V: SIMD>(_: V.Type) where V.Scalar == Float {
        let b = V.scalarCount, blocks = (c + b - 1) / b
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * b) { acc in
            let sdy = acc.baseAddress!, sdyx = sdy + b
            for cb in 0..<blocks {
                sdy.update(repeating: 0, count: 2 * b)
                let mean = lanes(cb, c, as: V.self) { savedMean[$0] }
                accumulate(V.self, n: n, blocks: blocks, p: p, cb: cb, dyp, xp, into: sdy) { g, _ in g }
                accumulate(V.self, n: n, blocks: blocks, p: p, cb: cb, dyp, xp, into: sdyx) { g, v in g * (v - mean) }
                for l in 0..<b where cb * b + l < c {
                    sums[cb * b + l] = sdy[l]
                    sums[c + cb * b + l] = sdyx[l] * Double(savedInvStd[cb * b + l])
                }
            }
        }
    }
    switch layout.blockSize {
    case 4: run(SIMD4<Float>.self)
    case 8: run(SIMD8<Float>.self)
    default: run(SIMD16<Float>.self)
    }
    sums[2 * c] = Double(n * p)
}

/// `batchnorm_backward_train` for `layout`.
public func batchnorm_backward_train(
    layout: ActivationLayout, batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<Float>,
    dy: UnsafeBufferPointer<Float>, gamma: UnsafeBufferPointer<Float>, savedMean: UnsafeBufferPointer<Float>,
    savedInvStd: UnsafeBufferPointer<Float>, dx: UnsafeMutableBufferPointer<Float>, dgamma: UnsafeMutableBufferPointer<Float>,
    dbeta: UnsafeMutableBufferPointer<Float>, sums: UnsafeMutableBufferPointer<Double>, reducer: BatchNormReducer
) {
    guard layout.blockSize > 1 else {
        batchnorm_backward_train(batch: n, channels: c, plane: p, x: x, dy: dy, gamma: gamma, savedMean: savedMean,
                                 savedInvStd: savedInvStd, dx: dx, dgamma: dgamma, dbeta: dbeta, sums: sums, reducer: reducer)
        return
    }
    precondition(dx.count == x.count && gamma.count == c && dgamma.count == c && dbeta.count == c,
                 "batchnorm backward: dx \(dx.count), x \(x.count), per-channel buffers must hold \(c)")
    batchnorm_local_sums(layout: layout, batch: n, channels: c, plane: p, x: x, dy: dy, savedMean: savedMean,
                         savedInvStd: savedInvStd, sums: sums)
    for ch in 0..<c {
        dbeta[ch] += Float(sums[ch])
        dgamma[ch] += Float(sums[c + ch])
    }
    reducer.sum(sums)
    let m = sums[2 * c]
    guard let xp = x.baseAddress, let dyp = dy.baseAddress, let dxp = dx.baseAddress else { return }
    // dx = k (dy - mean(dy) - xhat mean(dy xhat)), k = gamma * invStd, xhat = (x - mean) * invStd
    func run<V: SIMD>(_: V.Type) where V.Scalar == Float {
        let blocks = (c + V.scalarCount - 1) / V.scalarCount
        for cb in 0..<blocks {
            let k = lanes(cb, c, as: V.self) { gamma[$0] * savedInvStd[$0] }
            let meanDy = lanes(cb, c, as: V.self) { Float(sums[$0] / m) }
            let xhatScale = lanes(cb, c, as: V.self) { Float(sums[c + $0] / m) * savedInvStd[$0] }
            let mean = lanes(cb, c, as: V.self) { savedMean[$0] }
            for img in 0..<n {
                let base = (img * blocks + cb) * p
                for i in base..<(base + p) {
                    let v = load(xp, i, as: V.self), g = load(dyp, i, as: V.self)
                    store(k * (g - meanDy - (v - mean) * xhatScale), dxp, i)
                }
            }
        }
    }
    switch layout.blockSize {
    case 4: run(SIMD4<Float>.self)
    case 8: run(SIMD8<Float>.self)
    default: run(SIMD16<Float>.self)
    }
}

/// `batchnorm_backward_eval` for `layout`.
public func batchnorm_backward_eval(
    layout: ActivationLayout, batch n: Int, channels c: Int, plane p: Int, x: UnsafeBufferPointer<Float>,
    dy: UnsafeBufferPointer<Float>, gamma: UnsafeBufferPointer<Float>, epsilon: Double,
    runningMean: UnsafeBufferPointer<Float>, runningVar: UnsafeBufferPointer<Float>,
    dx: UnsafeMutableBufferPointer<Float>, dgamma: UnsafeMutableBufferPointer<Float>, dbeta: UnsafeMutableBufferPointer<Float>
) {
    guard layout.blockSize > 1 else {
        batchnorm_backward_eval(batch: n, channels: c, plane: p, x: x, dy: dy, gamma: gamma, epsilon: epsilon,
                                runningMean: runningMean, runningVar: runningVar, dx: dx, dgamma: dgamma, dbeta: dbeta)
        return
    }
    precondition(x.count == layout.count(n: n, c: c, h: p, w: 1) && dy.count == x.count && dx.count == x.count,
                 "batchnorm eval backward: x \(x.count), dy \(dy.count), dx \(dx.count) for \(n) x \(c) x \(p) in \(layout)")
    guard let xp = x.baseAddress, let dyp = dy.baseAddress, let dxp = dx.baseAddress else { return }
    func invStd(_ ch: Int) -> Float { Float(1 / (Double(runningVar[ch]) + epsilon).squareRoot()) }
    func run<V: SIMD>(_: V.Type) where V.Scalar == Float {
        let b = V.scalarCount, blocks = (c + b - 1) / b
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * b) { acc in
            let sdy = acc.baseAddress!, sdyx = sdy + b
            for cb in 0..<blocks {
                sdy.update(repeating: 0, count: 2 * b)
                let k = lanes(cb, c, as: V.self) { gamma[$0] * invStd($0) }
                let mean = lanes(cb, c, as: V.self) { runningMean[$0] }
                for img in 0..<n {
                    let base = (img * blocks + cb) * p
                    for i in base..<(base + p) { store(load(dyp, i, as: V.self) * k, dxp, i) }
                }
                accumulate(V.self, n: n, blocks: blocks, p: p, cb: cb, dyp, xp, into: sdy) { g, _ in g }
                accumulate(V.self, n: n, blocks: blocks, p: p, cb: cb, dyp, xp, into: sdyx) { g, v in g * (v - mean) }
                for l in 0..<b where cb * b + l < c {
                    dbeta[cb * b + l] += Float(sdy[l])
                    dgamma[cb * b + l] += Float(sdyx[l] * Double(invStd(cb * b + l)))
                }
            }
        }
    }
    switch layout.blockSize {
    case 4: run(SIMD4<Float>.self)
    case 8: run(SIMD8<Float>.self)
    default: run(SIMD16<Float>.self)
    }
}
