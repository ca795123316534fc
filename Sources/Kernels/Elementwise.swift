// Elementwise layers over flat buffers of `count` elements.
//
// affine:   y[n, c, h, w] = a * x[n, c, h, w] + b[c, h, w]   (scalar a, untied b)
//           x, y [N, C, H, W] (a shard's block), b [1, C, H, W] (the same block of b)
// relu:     y = max(x, 0)
// tanh:     y = tanh(x)
// sigmoid:  y = 1 / (1 + exp(-x))

/// `y = a*x + b`, `b` broadcast over the batch: `x.count == batch * b.count`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affine_forward<T: GEMMScalar>(
    batch n: Int, x: UnsafeBufferPointer<T>, a: T, b: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>
) {
    let m = b.count
    precondition(x.count == n * m && y.count == x.count, "affine: x \(x.count), y \(y.count), batch \(n) x b \(m)")
    for img in 0..<n {
        for i in 0..<m { y[img * m + i] = a * x[img * m + i] + b[i] }
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
    var sum: T = 0
    for img in 0..<n {
        for i in 0..<m {
            let g = dy[img * m + i]
            dx[img * m + i] = a * g
            sum += g * x[img * m + i]
            db[i] += g
        }
    }
    da += sum
}

@_specialize(where T == Float)
@_specialize(where T == Double)
public func relu_forward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == y.count, "relu: x \(x.count), y \(y.count)")
    for i in x.indices { y[i] = x[i] > 0 ? x[i] : 0 }
}

/// `dx = dy` where `x > 0`, else 0 (the subgradient at 0 is 0, as in PyTorch).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func relu_backward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == dy.count && dx.count == x.count, "relu backward: x \(x.count), dy \(dy.count), dx \(dx.count)")
    for i in x.indices { dx[i] = x[i] > 0 ? dy[i] : 0 }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
public func tanh_forward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == y.count, "tanh: x \(x.count), y \(y.count)")
    for i in x.indices { y[i] = T.tanh(x[i]) }
}

/// From the forward output: `dx = dy * (1 - y^2)`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func tanh_backward<T: GEMMScalar>(y: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>) {
    precondition(y.count == dy.count && dx.count == y.count, "tanh backward: y \(y.count), dy \(dy.count), dx \(dx.count)")
    for i in y.indices { dx[i] = dy[i] * (1 - y[i] * y[i]) }
}

/// Evaluated as `exp(min(x,0)) / (1 + exp(-|x|))`-style so large `|x|` cannot overflow.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func sigmoid_forward<T: GEMMScalar>(x: UnsafeBufferPointer<T>, y: UnsafeMutableBufferPointer<T>) {
    precondition(x.count == y.count, "sigmoid: x \(x.count), y \(y.count)")
    for i in x.indices {
        let v = x[i]
        if v >= 0 {
            y[i] = 1 / (1 + T.exp(-v))
        } else {
            let e = T.exp(v)
            y[i] = e / (1 + e)
        }
    }
}

/// From the forward output: `dx = dy * y * (1 - y)`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func sigmoid_backward<T: GEMMScalar>(y: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, dx: UnsafeMutableBufferPointer<T>) {
    precondition(y.count == dy.count && dx.count == y.count, "sigmoid backward: y \(y.count), dy \(dy.count), dx \(dx.count)")
    for i in y.indices { dx[i] = dy[i] * y[i] * (1 - y[i]) }
}
