import Kernels

#if canImport(Glibc)
import Glibc
#endif

/// The reference dump's L1 (64x64 -> 112x112, Cin = Cout = 16, 10x10 kernel, tile
/// stride 2, 4x4 outputs per tile, 28x28 tiles) at batch 8. Its weights are 1.28 GB, so
/// every pass streams them from memory; sgemm runs the same per-tile GEMMs on the same
/// weights with the patch matrix already gathered.
func benchLocallyConnected(into results: inout [Figure], checks: inout [String: [Float]]) {
    let n = 8
    guard let g = try? LocallyConnectedGeometry(
        layer: "L1", inChannels: 16, outChannels: 16, height: 64, width: 64, kernelHeight: 10, kernelWidth: 10,
        tileStride: 2, tileHeight: 4, tileWidth: 4, tilesY: 28, tilesX: 28)
    else { fatalError("benchmark L1 shape rejected") }
    let s = TileShard.whole(g)
    let tiles = s.tiles, r = g.tileOutputs, k = g.patchSize
    let wCount = g.weightCount(tiles: tiles)
    print("locally connected L1, batch \(n): \(tiles) tiles, per tile GEMM \(n)x\(r)x\(k), weights \(wCount * 4 / 1_000_000) MB")
    let x = allocate(n * g.inChannels * g.height * g.width), w = allocate(wCount), wp = allocate(wCount), dwp = allocate(wCount)
    let y = allocate(n * r * tiles), dy = allocate(y.count), dx = allocate(x.count)
    let ws = allocate(locally_connected_workspace_count(g, batch: n))
    fillRandom(x, seed: 11); fillRandom(w, seed: 12); fillRandom(dy, seed: 13)
    let flops = g.flops(batch: n, tiles: tiles)
    let reps = 3

    let tPack = best(2) {
        locally_connected_pack_weights(g, tiles: tiles, weight: UnsafeBufferPointer(w), packed: wp)
    }
    let kf = {
        locally_connected_forward(g, s, batch: n, x: UnsafeBufferPointer(x), packedWeight: UnsafeBufferPointer(wp), y: y, workspace: ws)
    }
    let kbd = {
        locally_connected_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dy), packedWeight: UnsafeBufferPointer(wp), dx: dx, workspace: ws)
    }
    let kbf = {
        locally_connected_backward_filter(g, s, batch: n, x: UnsafeBufferPointer(x), dy: UnsafeBufferPointer(dy), dpackedWeight: dwp, workspace: ws)
    }
    guard let p = ws.baseAddress, let wpp = wp.baseAddress, let dwpp = dwp.baseAddress else { return }
    let t = p + n * k
    let gf = {
        for i in 0..<tiles {
            Float.gemm(transA: false, transB: true, m: n, n: r, k: k, alpha: 1, p, lda: k, wpp + i * r * k, ldb: k, beta: 0, t, ldc: r)
        }
    }
    let gbd = {
        for i in 0..<tiles {
            Float.gemm(transA: false, transB: false, m: n, n: k, k: r, alpha: 1, t, lda: r, wpp + i * r * k, ldb: k, beta: 0, p, ldc: k)
        }
    }
    let gbf = {
        for i in 0..<tiles {
            Float.gemm(transA: true, transB: false, m: r, n: k, k: n, alpha: 1, t, lda: r, p, ldb: k, beta: 1, dwpp + i * r * k, ldc: k)
        }
    }
    let (tf, tgf) = bestPair(reps, kf, gf)
    let (tbd, tgbd) = bestPair(reps, kbd, gbd)
    let (tbf, tgbf) = bestPair(reps, kbf, gbf)
    // Unpacking adds into canonical gradients; w stands in for them here.
    let tUnpack = best(2) {
        locally_connected_unpack_add(g, tiles: tiles, packed: UnsafeBufferPointer(dwp), into: w)
    }
    let gb = Double(wCount) * 4 / 1e9
    print("  pack weights (once per weight update): \(ms(tPack)) ms, \(String((gb * 2 / tPack * 10).rounded() / 10)) GB/s moved")
    print("  unpack-add gradients (once per step):  \(ms(tUnpack)) ms, \(String((gb * 3 / tUnpack * 10).rounded() / 10)) GB/s moved")
    print("  forward including a pack every pass:   \(gflops(flops, tf + tPack)) GFLOP/s")
    results.append(Figure(name: "L1 locally connected forward", flops: flops, kernelSeconds: tf, gemmSeconds: tgf))
    results.append(Figure(name: "L1 locally connected backward-data", flops: flops, kernelSeconds: tbd, gemmSeconds: tgbd))
    results.append(Figure(name: "L1 locally connected backward-filter", flops: flops, kernelSeconds: tbf, gemmSeconds: tgbf))

    // Results for the cross-run comparison, and a direct check of a few outputs.
    locally_connected_pack_weights(g, tiles: tiles, weight: UnsafeBufferPointer(w), packed: wp)
    locally_connected_forward(g, s, batch: n, x: UnsafeBufferPointer(x), packedWeight: UnsafeBufferPointer(wp), y: y, workspace: ws)
    locally_connected_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dy), packedWeight: UnsafeBufferPointer(wp), dx: dx, workspace: ws)
    checks["lc.forward"] = sample(y)
    checks["lc.backward-data"] = sample(dx)
    var worst = 0.0
    let oh = g.outputHeight, ow = g.outputWidth
    for i in stride(from: 0, to: y.count, by: 10007) {
        let img = i / (g.outChannels * oh * ow), co = i / (oh * ow) % g.outChannels, oy = i / ow % oh, ox = i % ow
        let ty = oy / 4, sy = oy % 4, tx = ox / 4, sx = ox % 4
        var sum = 0.0
        for ci in 0..<16 { for kh in 0..<10 { for kw in 0..<10 {
            var wi: Int = ((co * 4 + sy) * 4 + sx) * 16 + ci
            wi = ((wi * 10 + kh) * 10 + kw) * 28 * 28 + ty * 28 + tx
            let xi: Int = ((img * 16 + ci) * 64 + ty * 2 + kh) * 64 + tx * 2 + kw
            sum += Double(w[wi]) * Double(x[xi])
        } } }
        worst = max(worst, abs(Double(y[i]) - sum) / max(abs(sum), 1))
    }
    print("  forward vs direct sum in Double at \(y.count / 10007 + 1) points: max error \(worst)")
    for b in [x, w, wp, dwp, y, dy, dx, ws] { b.deallocate() }
}

func ms(_ seconds: Double) -> String { String((seconds * 1e4).rounded() / 10) }
