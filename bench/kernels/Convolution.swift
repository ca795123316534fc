import Kernels
#if canImport(Glibc)
import Glibc
#endif

/// Convolution 4x16x256x256, 3x3, pad 1, 16 -> 16: forward, backward-data and
/// backward-filter, each against sgemm running the same sequence of GEMM shapes on
/// ready-made operands (so the difference is im2col and bookkeeping). Then the same
/// layer on one shard of a 2x2 grid (an interior-facing corner with a one-pixel halo),
/// which is what a rank runs; not a target, for information.
func benchConvolution(into results: inout [Figure], checks: inout [String: [Float]]) {
    let n = 4, c = 16, f = 16, h = 256, w = 256
    guard let g = try? Conv2DGeometry(inChannels: c, outChannels: f, height: h, width: w, kernel: 3, padding: 1) else {
        fatalError("benchmark convolution shape rejected")
    }
    measureConvolution(g, g.wholeShard, batch: n, label: "conv", into: &results, checks: &checks)
    // Rank 3 of a 2x2 grid: outputs 128..<256 both ways, input rows/cols 127..<256.
    let shard = SpatialShard(inputRows: 127..<256, inputCols: 127..<256, outputRows: 128..<256, outputCols: 128..<256)
    var ignored: [String: [Float]] = [:]
    measureConvolution(g, shard, batch: n, label: "conv on a 2x2 shard", into: &results, checks: &ignored)
}

func measureConvolution(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, label: String,
    into results: inout [Figure], checks: inout [String: [Float]]
) {
    let c = g.inChannels, f = g.outChannels
    let inH = s.inputRows.count, inW = s.inputCols.count, outW = s.outputCols.count, plane = s.outputPlane
    let x = allocate(n * c * s.inputPlane), wt = allocate(f * g.patchSize), bias = allocate(f)
    let y = allocate(n * f * plane), dy = allocate(y.count), dx = allocate(x.count), dw = allocate(wt.count)
    fillRandom(x, seed: 1); fillRandom(wt, seed: 2); fillRandom(bias, seed: 3); fillRandom(dy, seed: 4)
    let budget = getenvInt("BENCH_CONV_BUDGET") ?? (1 << 19)
    let ws = allocate(conv2d_workspace_count(g, s, budget: budget))
    let k = g.patchSize, taps = g.kernelHeight * g.kernelWidth
    // The kernels' bands for this workspace: output rows (patch-matrix columns `pitch`
    // per row) for forward and backward-filter; dx rows for the stride-1 transposed
    // backward-data.
    let bands = conv2d_bands(g, s, workspace: ws.count)
    let band = bands.forwardRows, pitch = bands.forwardPitch
    guard let tband = bands.transposedRows else { fatalError("benchmark expects the transposed backward-data") }
    print("\(label): \(n)x\(c)x\(g.height)x\(g.width) 3x3 pad 1 \(c)->\(f), input \(inH)x\(inW), output "
          + "\(s.outputRows.count)x\(outW); bands of \(band) rows at pitch \(pitch) (\(tband) for backward-data, "
          + "run as the transposed convolution)")
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
    // (beta 0; the kernel instead starts Y at the bias and adds), the transposed
    // backward-data dX = W' * col', and dW += dY * col^T accumulated over bands.
    let col = allocate(ws.count)
    fillRandom(col, seed: 5)
    guard let wtp = wt.baseAddress, let colp = col.baseAddress, let yp = y.baseAddress, let dyp = dy.baseAddress,
          let dwp = dw.baseAddress, let dxp = dx.baseAddress else { return }
    let rowsOut = s.outputRows.count
    // At pitch > outW the kernel's GEMM writes a scratch band; y stands in for it here
    // (its 4 images hold more than a band).
    let gf = {
        for img in 0..<n {
            for r0 in stride(from: 0, to: rowsOut, by: band) {
                let cols = min(band, rowsOut - r0) * pitch
                Float.gemm(transA: false, transB: false, m: f, n: cols, k: k, alpha: 1, wtp, lda: k,
                           colp, ldb: cols, beta: 0, yp + img * f * plane + r0 * outW, ldc: pitch == outW ? plane : cols)
            }
        }
    }
    let gbd = {
        for img in 0..<n {
            for r0 in stride(from: 0, to: inH, by: tband) {
                let cols = min(tband, inH - r0) * inW
                Float.gemm(transA: false, transB: false, m: c, n: cols, k: f * taps, alpha: 1, wtp, lda: f * taps,
                           colp, ldb: cols, beta: 0, dxp + img * c * s.inputPlane + r0 * inW, ldc: s.inputPlane)
            }
        }
    }
    let gbf = {
        for img in 0..<n {
            for r0 in stride(from: 0, to: rowsOut, by: band) {
                let cols = min(band, rowsOut - r0) * pitch
                Float.gemm(transA: false, transB: true, m: f, n: k, k: cols, alpha: 1,
                           dyp + img * f * plane + r0 * outW, lda: pitch == outW ? plane : cols, colp, ldb: cols,
                           beta: 1, dwp, ldc: k)
            }
        }
    }
    if s == g.wholeShard {
        // For context: the layer's GEMM unbanded, one call per image (F x OH*OW x K),
        // on an im2col matrix made beforehand.
        let big = allocate(k * plane)
        fillRandom(big, seed: 6)
        if let bp = big.baseAddress {
            let t = best(2) {
                for img in 0..<n {
                    Float.gemm(transA: false, transB: false, m: f, n: plane, k: k, alpha: 1, wtp, lda: k,
                               bp, ldb: plane, beta: 0, yp + img * f * plane, ldc: plane)
                }
            }
            print("  sgemm on the unbanded per-image GEMM (\(f)x\(plane)x\(k)), for context: \(gflops(flops, t)) GFLOP/s")
        }
        big.deallocate()
    }
    let (tf, tgf) = bestPair(reps, kf, gf)
    let (tbd, tgbd) = bestPair(reps, kbd, gbd)
    let (tbf, tgbf) = bestPair(reps, kbf, gbf)
    results.append(Figure(name: label + " forward", flops: flops, kernelSeconds: tf, gemmSeconds: tgf))
    results.append(Figure(name: label + " backward-data", flops: flops, kernelSeconds: tbd, gemmSeconds: tgbd))
    results.append(Figure(name: label + " backward-filter", flops: flops, kernelSeconds: tbf, gemmSeconds: tgbf))

    // Results for the cross-run comparison, and a direct check of a few outputs.
    kf()
    kbd()
    dw.update(repeating: 0)
    kbf()
    checks["conv.forward"] = sample(y)
    checks["conv.backward-data"] = sample(dx)
    checks["conv.backward-filter"] = Array(dw)
    var worst = 0.0
    let outH = s.outputRows.count
    for i in stride(from: 0, to: y.count, by: 7919) {
        let img = i / (f * plane), co = i / plane % f
        let oy = s.outputRows.lowerBound + i % plane / outW, ox = s.outputCols.lowerBound + i % outW
        var sum = Double(bias[co])
        for ci in 0..<c { for kh in 0..<3 { for kw in 0..<3 {
            let iy: Int = oy - 1 + kh
            let ix: Int = ox - 1 + kw
            if iy >= 0 && iy < g.height && ix >= 0 && ix < g.width {
                let wi: Int = (co * c + ci) * 9 + kh * 3 + kw
                let xi: Int = ((img * c + ci) * inH + iy - s.inputRows.lowerBound) * inW + ix - s.inputCols.lowerBound
                sum += Double(wt[wi]) * Double(x[xi])
            }
        } } }
        worst = max(worst, abs(Double(y[i]) - sum) / max(abs(sum), 1))
    }
    print("  forward vs direct sum in Double at \(y.count / 7919 + 1) of \(n * f * outH * outW) points: max error \(worst)")
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
