import Kernels
#if canImport(Glibc)
import Glibc
#endif

/// Convolution 4x16x256x256, 3x3, pad 1, 16 -> 16: forward, backward-data and
/// backward-filter, each against sgemm running the same sequence of GEMM shapes on
/// ready-made operands (so the difference is im2col/col2im and bookkeeping).
func benchConvolution(into results: inout [Figure], checks: inout [String: [Float]]) {
    let n = 4, c = 16, f = 16, h = 256, w = 256
    guard let g = try? Conv2DGeometry(inChannels: c, outChannels: f, height: h, width: w, kernel: 3, padding: 1) else {
        fatalError("benchmark convolution shape rejected")
    }
    let s = g.wholeShard
    let x = allocate(n * c * h * w), wt = allocate(f * g.patchSize), bias = allocate(f)
    let y = allocate(n * f * s.outputPlane), dy = allocate(y.count), dx = allocate(x.count), dw = allocate(wt.count)
    fillRandom(x, seed: 1); fillRandom(wt, seed: 2); fillRandom(bias, seed: 3); fillRandom(dy, seed: 4)
    let budget = getenvInt("BENCH_CONV_BUDGET") ?? (1 << 19)
    let ws = allocate(conv2d_workspace_count(g, s, budget: budget))
    let k = g.patchSize, outW = s.outputCols.count, plane = s.outputPlane
    let band = ws.count / (k * outW)
    print("convolution \(n)x\(c)x\(h)x\(w), 3x3, pad 1, \(c)->\(f): bands of \(band) rows, workspace \(ws.count) floats; "
          + "backward-data as the transposed convolution (stride 1)")
    let flops = g.flops(batch: n, shard: s)
    let reps = 5

    let kf = {
        conv2d_forward(g, s, batch: n, x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(wt),
                       bias: UnsafeBufferPointer(bias), y: y, workspace: ws)
    }
    let kbd = {
        conv2d_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dy), weight: UnsafeBufferPointer(wt), dx: dx, workspace: ws)
    }
    let kbf = {
        conv2d_backward_filter(g, s, batch: n, x: UnsafeBufferPointer(x), dy: UnsafeBufferPointer(dy), dweight: dw, workspace: ws)
    }
    // sgemm alone on the same band shapes, operands already in place: Y = W * col
    // (beta 0; the kernel instead starts Y at the bias and adds), dcol-free transposed
    // backward-data below, and dW += dY * col^T accumulated over bands.
    let col = allocate(ws.count)
    fillRandom(col, seed: 5)
    guard let wtp = wt.baseAddress, let colp = col.baseAddress, let yp = y.baseAddress, let dyp = dy.baseAddress,
          let dwp = dw.baseAddress else { return }
    /// Calls body(image, band offset in the output plane, band columns) for every band.
    func bands(_ body: (Int, Int, Int) -> Void) {
        for img in 0..<n {
            for r0 in stride(from: 0, to: h, by: band) { body(img, r0 * outW, min(band, h - r0) * outW) }
        }
    }
    let gf = {
        bands { img, off, cols in
            Float.gemm(transA: false, transB: false, m: f, n: cols, k: k, alpha: 1, wtp, lda: k,
                       colp, ldb: cols, beta: 0, yp + img * f * plane + off, ldc: plane)
        }
    }
    // Stride 1: backward-data runs as the transposed convolution dy -> dx, im2col + GEMM
    // of the forward's shape (C x cols x F*KH*KW) in bands over dx rows; the band height
    // follows from the workspace left after the flipped filters.
    let taps = 9
    let tband = min(h, (ws.count - c * f * taps) / (f * taps * w))
    guard let dxp = dx.baseAddress else { return }
    let gbd = {
        for img in 0..<n {
            for r0 in stride(from: 0, to: h, by: tband) {
                let cols = min(tband, h - r0) * w
                Float.gemm(transA: false, transB: false, m: c, n: cols, k: f * taps, alpha: 1, wtp, lda: f * taps,
                           colp, ldb: cols, beta: 0, dxp + img * c * h * w + r0 * w, ldc: h * w)
            }
        }
    }
    let gbf = {
        bands { img, off, cols in
            Float.gemm(transA: false, transB: true, m: f, n: k, k: cols, alpha: 1,
                       dyp + img * f * plane + off, lda: plane, colp, ldb: cols, beta: 1, dwp, ldc: k)
        }
    }
    let (tf, tgf) = bestPair(reps, kf, gf)
    let (tbd, tgbd) = bestPair(reps, kbd, gbd)
    let (tbf, tgbf) = bestPair(reps, kbf, gbf)
    // The same GEMMs unbanded (one per image, the im2col matrix whole), for reference.
    let big = allocate(k * plane)
    fillRandom(big, seed: 6)
    let gfWhole = best(2) {
        for img in 0..<n {
            Float.gemm(transA: false, transB: false, m: f, n: plane, k: k, alpha: 1, wt.baseAddress!, lda: k,
                       big.baseAddress!, ldb: plane, beta: 0, y.baseAddress! + img * f * plane, ldc: plane)
        }
    }
    big.deallocate()
    print("  sgemm on whole-image shapes (\(f)x\(plane)x\(k)): \(gflops(flops, gfWhole)) GFLOP/s")

    results.append(Figure(name: "conv forward", flops: flops, kernelSeconds: tf, gemmSeconds: tgf))
    results.append(Figure(name: "conv backward-data", flops: flops, kernelSeconds: tbd, gemmSeconds: tgbd))
    results.append(Figure(name: "conv backward-filter", flops: flops, kernelSeconds: tbf, gemmSeconds: tgbf))

    // Results for the cross-run comparison and a direct check of a few outputs.
    conv2d_forward(g, s, batch: n, x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(wt),
                   bias: UnsafeBufferPointer(bias), y: y, workspace: ws)
    conv2d_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dy), weight: UnsafeBufferPointer(wt), dx: dx, workspace: ws)
    dw.update(repeating: 0)
    conv2d_backward_filter(g, s, batch: n, x: UnsafeBufferPointer(x), dy: UnsafeBufferPointer(dy), dweight: dw, workspace: ws)
    checks["conv.forward"] = sample(y)
    checks["conv.backward-data"] = sample(dx)
    checks["conv.backward-filter"] = Array(dw)
    var worst = 0.0
    for i in stride(from: 0, to: y.count, by: 7919) {
        let img = i / (f * plane), co = i / plane % f, oy = i % plane / w, ox = i % w
        var sum = Double(bias[co])
        for ci in 0..<c { for kh in 0..<3 { for kw in 0..<3 {
            let iy: Int = oy - 1 + kh
            let ix: Int = ox - 1 + kw
            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                let wi: Int = (co * c + ci) * 9 + kh * 3 + kw
                let xi: Int = ((img * c + ci) * h + iy) * w + ix
                sum += Double(wt[wi]) * Double(x[xi])
            }
        } } }
        worst = max(worst, abs(Double(y[i]) - sum) / max(abs(sum), 1))
    }
    print("  forward vs direct sum in Double at \(y.count / 7919 + 1) points: max error \(worst)")
    for p in [x, wt, bias, y, dy, dx, dw, ws, col] { p.deallocate() }
}

func gflops(_ flops: Double, _ seconds: Double) -> String {
    String((flops / seconds * 1e-8).rounded() / 10)
}

func getenvInt(_ name: String) -> Int? { getenv(name).flatMap { Int(String(cString: $0)) } }

/// Every 997th value, enough to tell two runs apart.
func sample(_ p: UnsafeMutableBufferPointer<Float>) -> [Float] {
    stride(from: 0, to: p.count, by: 997).map { p[$0] }
}
