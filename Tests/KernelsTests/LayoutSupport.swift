import Kernels

// Layout conversions for tests, written from ActivationLayout's storage formula with
// plain loops (independent of oneDNN's reorder, which the kernels use).

/// An NCHW `[n, c, h, w]` block stored in `layout` (padded channels zero).
func toLayout(_ v: [Float], n: Int, c: Int, h: Int, w: Int, _ layout: ActivationLayout) -> [Float] {
    precondition(v.count == n * c * h * w, "toLayout: \(v.count) values for [\(n), \(c), \(h), \(w)]")
    var out = [Float](repeating: 0, count: layout.count(n: n, c: c, h: h, w: w))
    for i in 0..<n { for j in 0..<c { for y in 0..<h { for x in 0..<w {
        out[layout.offset(n: i, c: j, y: y, x: x, channels: c, height: h, width: w)] = v[((i * c + j) * h + y) * w + x]
    } } } }
    return out
}

/// The NCHW values of a block stored in `layout`.
func fromLayout(_ v: [Float], n: Int, c: Int, h: Int, w: Int, _ layout: ActivationLayout) -> [Float] {
    precondition(v.count == layout.count(n: n, c: c, h: h, w: w), "fromLayout: \(v.count) values for [\(n), \(c), \(h), \(w)] in \(layout)")
    var out = [Float](repeating: 0, count: n * c * h * w)
    for i in 0..<n { for j in 0..<c { for y in 0..<h { for x in 0..<w {
        out[((i * c + j) * h + y) * w + x] = v[layout.offset(n: i, c: j, y: y, x: x, channels: c, height: h, width: w)]
    } } } }
    return out
}

/// The values a blocked layout keeps in its padded channels (all must be zero).
func paddedChannelValues(_ v: [Float], n: Int, c: Int, h: Int, w: Int, _ layout: ActivationLayout) -> [Float] {
    let b = layout.blockSize, cp = layout.paddedChannels(c)
    guard cp > c else { return [] }
    var out: [Float] = []
    for i in 0..<n { for j in c..<cp { for y in 0..<h { for x in 0..<w {
        out.append(v[(((i * (cp / b) + j / b) * h + y) * w + x) * b + j % b])
    } } } }
    return out
}

/// The layouts the oneDNN tests run: plain, 8 and 16 channels per block.
let testLayouts: [ActivationLayout] = [.nchw, .blocked(8), .blocked(16)]
