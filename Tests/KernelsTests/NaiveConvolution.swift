import Kernels

// Naive twins of the convolution kernels, whole tensor only, straight from the formula:
// y[n, f, oy, ox] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw] * x[n, group(f)*C/G + c, oy*sh - ph + kh*dh, ox*sw - pw + kw*dw]

/// Calls `body(yIndex, xIndex, wIndex)` for every multiply-add of the convolution.
func naiveConvTerms(_ g: Conv2DGeometry, batch n: Int, _ body: (Int, Int, Int) -> Void) {
    let cg = g.groupInChannels, fg = g.groupOutChannels
    for img in 0..<n {
        for f in 0..<g.outChannels {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let yi = ((img * g.outChannels + f) * g.outputHeight + oy) * g.outputWidth + ox
                    for c in 0..<cg {
                        let ci = f / fg * cg + c
                        for kh in 0..<g.kernelHeight {
                            let iy = oy * g.strideH - g.paddingH + kh * g.dilationH
                            if iy < 0 || iy >= g.height { continue }
                            for kw in 0..<g.kernelWidth {
                                let ix = ox * g.strideW - g.paddingW + kw * g.dilationW
                                if ix < 0 || ix >= g.width { continue }
                                let xi = ((img * g.inChannels + ci) * g.height + iy) * g.width + ix
                                let wi = ((f * cg + c) * g.kernelHeight + kh) * g.kernelWidth + kw
                                body(yi, xi, wi)
                            }
                        }
                    }
                }
            }
        }
    }
}

func naiveConvForward(_ g: Conv2DGeometry, batch n: Int, x: [Double], w: [Double], b: [Double]?) -> [Double] {
    let plane = g.outputHeight * g.outputWidth
    var y = [Double](repeating: 0, count: n * g.outChannels * plane)
    if let b { for i in y.indices { y[i] = b[i / plane % g.outChannels] } }
    naiveConvTerms(g, batch: n) { yi, xi, wi in y[yi] += w[wi] * x[xi] }
    return y
}

func naiveConvBackward(_ g: Conv2DGeometry, batch n: Int, x: [Double], w: [Double], dy: [Double])
    -> (dx: [Double], dw: [Double], db: [Double])
{
    var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
    var db = [Double](repeating: 0, count: g.outChannels)
    let plane = g.outputHeight * g.outputWidth
    for i in dy.indices { db[i / plane % g.outChannels] += dy[i] }
    naiveConvTerms(g, batch: n) { yi, xi, wi in
        dx[xi] += w[wi] * dy[yi]
        dw[wi] += x[xi] * dy[yi]
    }
    return (dx, dw, db)
}
