// Elementwise layers over flat buffers of `count` elements.
//
// affine:   y[n, c, h, w] = a * x[n, c, h, w] + b[c, h, w]   (scalar a, untied b)
//           x, y [N, C, H, W] (a shard's block), b [1, C, H, W] (the same block of b)
// relu:     y = max(x, 0)
// tanh:     y = tanh(x)
// sigmoid:  y = 1 / (1 + exp(-x))
//
// The loops run over raw pointers with wrapping index arithmetic and read every operand
// unconditionally, so relu vectorises: a load guarded by the sign test (`x > 0 ? dy[i] :
// 0`) cannot be hoisted, and its branch mispredicts on half the elements
// (bench/run-kernels --model-only, relu backward).

/// `y = a*x + b`, `b` broadcast over the batch: `x.count == batch * b.count`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affine_forward<T: GEMMScalar>(
    batch n: Int, x: UnsafeBufferPointer<T>, a: T, b: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>
) {
    let m = b.count
    precondition(x.count == n * m && y.count == x.count, "affine: x \(x.count), y \(y.count), batch \(n) x b \(m)")
    guard let xp = x.baseAddress, let bp = b.baseAddress, let yp = y.baseAddress else { return }
    for img in 0..<n {
        let xi = xp + img * m, yi = yp + img * m
        var i = 0
        while i < m { yi[i] = a * xi[i] + bp[i]; i &+= 1 }
    }
}

/// Gradients of `affine_forward`: overwrites `dx = a*dy`, adds `sum(dy*x)` into `da`
/// and `sum over n of dy` into `db`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affine_backward<T: GEMMScalar>(
    batch n: Int, x: UnsafeBufferPointer<T>, a: T, dy: UnsafeBufferPointer<T>,
    dx: UnsafeMutableBufferPointer<T>, da: inout T, db: UnsafeMutableBufferPointer<T>
) {
    let m = db.count
    precondition(x.count == n * m && dy.count == x.count && dx.count == x.count,
                 "affine backward: x \(x.count), dy \(dy.count), dx \(dx.count), batch \(n) x b \(m)")
    guard let xp = x.baseAddress, let dyp = dy.baseAddress, let dxp = dx.baseAddress, let dbp = db.baseAddress else { return }
    var sum: T = 0
    for img in 0..<n {
        let xi = xp + img * m, dyi = dyp + img * m, dxi = dxp + img * m
        // One pass reading each dy before writing its dx, so dx may be dy itself; `da`
        // sums in element order (a serial reduction, as it always was).
        var i = 0
        while i < m {
            let g = dyi[i]
            dxi[i] = a * g
            sum += g * xi[i]
            dbp[i] += g
            i &+= 1
        }
    }
    da += sum
}

@_specialize(where T == Float)
@_specialize(where T == Double)
public func relu_forward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == y.count, "relu: x \(x.count), y \(y.count)")
    guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
    var i = 0
    while i < x.count {
        let v = xp[i]
        yp[i] = v > 0 ? v : 0
        i &+= 1
    }
}

/// `dx = dy` where `x > 0`, else 0 (the subgradient at 0 is 0, as in PyTorch).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func relu_backward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == dy.count && dx.count == x.count, "relu backward: x \(x.count), dy \(dy.count), dx \(dx.count)")
    guard let xp = x.baseAddress, let dyp = dy.baseAddress, let dxp = dx.baseAddress else { return }
    var i = 0
    while i < x.count {
        let v = xp[i], d = dyp[i]
        dxp[i] = v > 0 ? d : 0
        i &+= 1
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
public func tanh_forward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == y.count, "tanh: x \(x.count), y \(y.count)")
    guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
    var i = 0
    while i < x.count { yp[i] = T.tanh(xp[i]); i &+= 1 }
}

/// From the forward output: `dx = dy * (1 - y^2)`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func tanh_backward<T: GEMMScalar>(y: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>) {
    precondition(y.count == dy.count && dx.count == y.count, "tanh backward: y \(y.count), dy \(dy.count), dx \(dx.count)")
    guard let yp = y.baseAddress, let dyp = dy.baseAddress, let dxp = dx.baseAddress else { return }
    var i = 0
    while i < y.count {
        let v = yp[i]
        dxp[i] = dyp[i] * (1 - v * v)
        i &+= 1
    }
}

/// Evaluated as `exp(min(x,0)) / (1 + exp(-|x|))`-style so large `|x|` cannot overflow.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func sigmoid_forward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == y.count, "sigmoid: x \(x.count), y \(y.count)")
    guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
    var i = 0
    while i < x.count {
        let v = xp[i]
        if v >= 0 {
            yp[i] = 1 / (1 + T.exp(-v))
        } else {
            let e = T.exp(v)
            yp[i] = e / (1 + e)
        }
        i &+= 1
    }
}

/// From the forward output: `dx = dy * y * (1 - y)`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func sigmoid_backward<T: GEMMScalar>(y: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>) {
    precondition(y.count == dy.count && dx.count == y.count, "sigmoid backward: y \(y.count), dy \(dy.count), dx \(dx.count)")
    guard let yp = y.baseAddress, let dyp = dy.baseAddress, let dxp = dx.baseAddress else { return }
    var i = 0
    while i < y.count {
        let v = yp[i]
        dxp[i] = dyp[i] * v * (1 - v)
        i &+= 1
    }
}
