import CBLAS
import Geometry
import Kernels

#if canImport(Glibc)
import Glibc
#endif

// The default model of `distconv train` at batch 64, layer by layer on one rank's shard:
//   x [64,1,28,28] -> conv1 1->16 3x3 pad 1 -> relu -> maxpool 2x2/2
//     -> conv2 16->32 3x3 pad 1 (14x14) -> relu -> maxpool 2x2/2 -> linear 1568->10
// once on the whole tensor (one rank) and once on rank 0 of a 2x2 grid over (H, W),
// whose inputs carry the partitioner's halo (conv1 reads 15x15 for its 14x14 outputs).
// Each convolution is printed next to cblas_sgemm on the kernel's own GEMM shapes (one
// image, or a band of one, per call) and on the layer's whole GEMM work as one call,
// operands ready; the other kernels next to memcpy of the bytes they move.

/// One kernel without a GEMM: its time and a memcpy of the bytes it reads and writes.
struct MemoryFigure {
    var name: String
    var seconds: Double
    var bytes: Int
    var memcpySeconds: Double
}

/// The layers of the default model on one rank: the shards of both convolutions and
/// both poolings (a ReLU runs on its convolution's output block).
struct ModelShards {
    var label: String
    var conv1: SpatialShard
    var pool1: SpatialShard
    var conv2: SpatialShard
    var pool2: SpatialShard

    static func whole(_ c1: Conv2DGeometry, _ p1: Pool2DGeometry, _ c2: Conv2DGeometry, _ p2: Pool2DGeometry) -> ModelShards {
        ModelShards(label: "whole", conv1: c1.wholeShard, pool1: p1.wholeShard, conv2: c2.wholeShard, pool2: p2.wholeShard)
    }

    /// Rank `rank` of a grid over (H, W): each layer's output block and, as the
    /// partitioner gives it, the receptive field of that block as its input.
    static func grid(_ grid: ProcessGrid, rank: Int, batch n: Int,
                     _ c1: Conv2DGeometry, _ p1: Pool2DGeometry, _ c2: Conv2DGeometry, _ p2: Pool2DGeometry) -> ModelShards {
        func shard(outH: Int, outW: Int, h: Int, w: Int, k: Int, s: Int, p: Int) -> SpatialShard {
            let out = grid.block(of: Rect(shape: [n, 1, outH, outW]), rank: rank)
            let rows = receptiveField(of: out.range(2), kernel: k, stride: s, padding: p, inputLength: h)
            let cols = receptiveField(of: out.range(3), kernel: k, stride: s, padding: p, inputLength: w)
            return SpatialShard(inputRows: rows, inputCols: cols, outputRows: out.range(2), outputCols: out.range(3))
        }
        return ModelShards(
            label: "2x2 rank \(rank)",
            conv1: shard(outH: c1.outputHeight, outW: c1.outputWidth, h: c1.height, w: c1.width, k: 3, s: 1, p: 1),
            pool1: shard(outH: p1.outputHeight, outW: p1.outputWidth, h: p1.height, w: p1.width, k: 2, s: 2, p: 0),
            conv2: shard(outH: c2.outputHeight, outW: c2.outputWidth, h: c2.height, w: c2.width, k: 3, s: 1, p: 1),
            pool2: shard(outH: p2.outputHeight, outW: p2.outputWidth, h: p2.height, w: p2.width, k: 2, s: 2, p: 0))
    }
}

func benchModel(into results: inout [Figure], checks: inout [String: [Float]], options: BenchOptions) {
    let n = 64
    guard let c1 = try? Conv2DGeometry(layer: "conv1", inChannels: 1, outChannels: 16, height: 28, width: 28, kernel: 3, padding: 1),
          let p1 = try? Pool2DGeometry(layer: "pool1", channels: 16, height: 28, width: 28, kernel: 2, stride: 2),
          let c2 = try? Conv2DGeometry(layer: "conv2", inChannels: 16, outChannels: 32, height: 14, width: 14, kernel: 3, padding: 1),
          let p2 = try? Pool2DGeometry(layer: "pool2", channels: 32, height: 14, width: 14, kernel: 2, stride: 2)
    else { fatalError("default model shapes rejected") }
    let reps = max(options.repeats, 15)
    for shards in [ModelShards.whole(c1, p1, c2, p2),
                   ModelShards.grid(ProcessGrid(shape: [1, 1, 2, 2]), rank: 0, batch: n, c1, p1, c2, p2)] {
        print("")
        print("default model, batch \(n), \(shards.label): conv1 in \(shardDims(shards.conv1, input: true)) out \(shardDims(shards.conv1, input: false)), "
              + "pool1 in \(shardDims(shards.pool1, input: true)), conv2 in \(shardDims(shards.conv2, input: true)) out \(shardDims(shards.conv2, input: false)), "
              + "pool2 in \(shardDims(shards.pool2, input: true)) out \(shardDims(shards.pool2, input: false))")
        var convs: [Figure] = [], others: [MemoryFigure] = []
        var sampled: [String: [Float]] = [:]
        let conv1 = measureModelConvolution(c1, shards.conv1, batch: n, backwardData: false, reps: reps,
                                            into: &convs, checks: &sampled)
        let conv2 = measureModelConvolution(c2, shards.conv2, batch: n, backwardData: true, reps: reps,
                                            into: &convs, checks: &sampled)
        let relu1 = measureReLU("relu1", count: n * c1.outChannels * shards.conv1.outputPlane, reps: reps, into: &others, checks: &sampled)
        let relu2 = measureReLU("relu2", count: n * c2.outChannels * shards.conv2.outputPlane, reps: reps, into: &others, checks: &sampled)
        let pool1 = measureMaxPool(p1, shards.pool1, batch: n, reps: reps, into: &others, checks: &sampled)
        let pool2 = measureMaxPool(p2, shards.pool2, batch: n, reps: reps, into: &others, checks: &sampled)
        for f in convs {
            print("  " + pad(f.name, 34) + pad("\(ms2(f.kernelSeconds)) ms", 12) + pad("\(gflops(f.flops, f.kernelSeconds)) GFLOP/s", 16)
                  + "sgemm \(gflops(f.flops, f.gemmSeconds)) GFLOP/s (\(ms2(f.gemmSeconds)) ms)"
                  + (f.note.isEmpty ? "" : "  " + f.note))
        }
        for m in others {
            print("  " + pad(m.name, 34) + pad("\(ms2(m.seconds)) ms", 12) + pad("\(gbs(m.bytes, m.seconds)) GB/s", 16)
                  + "memcpy \(gbs(m.bytes, m.memcpySeconds)) GB/s (\(ms2(m.memcpySeconds)) ms)")
        }
        print("  per step (the runtime's --timings groups): conv2d forward \(ms2(conv1.forward + conv2.forward)) ms, "
              + "conv2d backward \(ms2(conv1.backward + conv2.backward)) ms, max_pool forward \(ms2(pool1.forward + pool2.forward)) ms, "
              + "max_pool backward \(ms2(pool1.backward + pool2.backward)) ms, relu forward \(ms2(relu1.forward + relu2.forward)) ms, "
              + "relu backward \(ms2(relu1.backward + relu2.backward)) ms")
        let total = [conv1, conv2, relu1, relu2, pool1, pool2].reduce(0.0) { $0 + $1.forward + $1.backward }
        print("  per step, these kernels (\(shards.label)): \(ms2(total)) ms")
        results += convs.map { var f = $0; f.name = "model \(shards.label) " + f.name; return f }
        for (k, v) in sampled { checks["model.\(shards.label.replacingSpaces()).\(k)"] = v }
    }
}

/// Forward and backward seconds of one layer in a step.
struct StepSeconds {
    var forward = 0.0
    var backward = 0.0
}

/// Forward, backward-filter, bias gradient and (if the model computes it)
/// backward-data of one convolution with the workspace the runtime gives it.
func measureModelConvolution(
    _ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, backwardData: Bool, reps: Int,
    into figures: inout [Figure], checks: inout [String: [Float]]
) -> StepSeconds {
    let c = g.inChannels, f = g.outChannels, k = g.patchSize, taps = g.kernelHeight * g.kernelWidth
    let plane = s.outputPlane, cols = n * plane
    let x = allocate(n * c * s.inputPlane), wt = allocate(f * k), bias = allocate(f)
    let y = allocate(n * f * plane), dy = allocate(y.count), dx = allocate(x.count), dw = allocate(wt.count), db = allocate(f)
    fillRandom(x, seed: 31); fillRandom(wt, seed: 32); fillRandom(bias, seed: 33); fillRandom(dy, seed: 34)
    // MODEL_CONV_BUDGET overrides the workspace budget (elements), to try others.
    let ws = allocate(getenvInt("MODEL_CONV_BUDGET").map { conv2d_workspace_count(g, s, budget: $0) } ?? conv2d_workspace_count(g, s))
    let bands = conv2d_bands(g, s, workspace: ws.count)
    print("  \(g.layer): workspace \(ws.count) elements, forward and backward-filter in bands of \(bands.forwardRows) rows at pitch \(bands.forwardPitch)"
          + (backwardData ? ", backward-data " + (bands.transposedRows.map { "in bands of \($0) rows (transposed convolution)" }
                                                  ?? "by GEMM + col2im on those bands") : ""))
    // References, operands in place: sgemm on the kernel's own GEMM shapes (per image
    // and band, as conv2d_bands gives them; the difference to the kernel is im2col and
    // bookkeeping) and the whole batch's GEMM work as one call (what one GEMM over all
    // images would cost; OpenBLAS runs small GEMMs without packing, so it can be slower).
    let band = bands.forwardRows, pitch = bands.forwardPitch, rowsOut = s.outputRows.count, outW = s.outputCols.count
    let refB = allocate(max(k, f * taps) * cols), refC = allocate(max(f, c, k) * max(cols, k)), refW = allocate(wt.count)
    fillRandom(refB, seed: 35)
    defer { for p in [x, wt, bias, y, dy, dx, dw, db, ws, refB, refC, refW] { p.deallocate() } }
    guard let wp = wt.baseAddress, let bp = refB.baseAddress, let cp = refC.baseAddress, let dyp = dy.baseAddress,
          let yp = y.baseAddress, let dxp = dx.baseAddress, let rwp = refW.baseAddress
    else { return StepSeconds() }
    let flops = g.flops(batch: n, shard: s)
    let name = "\(g.layer) \(n)x\(c)x\(s.inputRows.count)x\(s.inputCols.count)"
    /// Calls `body(image, firstRow, rows)` for the kernel's bands of forward and backward-filter.
    func forBands(_ body: (Int, Int, Int) -> Void) {
        for img in 0..<n {
            for r0 in stride(from: 0, to: rowsOut, by: band) { body(img, r0, min(band, rowsOut - r0)) }
        }
    }

    let (tf, gf, of) = bestTriple(reps, {
        conv2d_forward(g, s, batch: n, x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(wt),
                       bias: UnsafeBufferPointer(bias), y: y, workspace: ws)
    }, {
        forBands { img, r0, rows in
            // At pitch > outW the kernel's GEMM writes a scratch band; refC stands in for it.
            let direct = pitch == outW
            Float.gemm(transA: false, transB: false, m: f, n: rows * pitch, k: k, alpha: 1, wp, lda: k, bp, ldb: rows * pitch,
                       beta: 0, direct ? yp + img * f * plane + r0 * outW : cp, ldc: direct ? plane : rows * pitch)
        }
    }, {
        Float.gemm(transA: false, transB: false, m: f, n: cols, k: k, alpha: 1, wp, lda: k, bp, ldb: cols, beta: 0, cp, ldc: cols)
    })
    let perImage = "\(f)x\(band * pitch)x\(k)"
    figures.append(Figure(name: name + " forward", flops: flops, kernelSeconds: tf, gemmSeconds: gf,
                          note: "(GEMMs \(perImage); one GEMM \(f)x\(cols)x\(k): \(gflops(flops, of)) GFLOP/s)"))
    let (tbf, gbf, obf) = bestTriple(reps, {
        conv2d_backward_filter(g, s, batch: n, x: UnsafeBufferPointer(x), dy: UnsafeBufferPointer(dy), dweight: dw, workspace: ws)
    }, {
        forBands { img, r0, rows in
            let direct = pitch == outW
            Float.gemm(transA: false, transB: true, m: f, n: k, k: rows * pitch, alpha: 1,
                       direct ? dyp + img * f * plane + r0 * outW : cp, lda: direct ? plane : rows * pitch,
                       bp, ldb: rows * pitch, beta: 1, rwp, ldc: k)
        }
    }, {
        Float.gemm(transA: false, transB: true, m: f, n: k, k: cols, alpha: 1, dyp, lda: cols, bp, ldb: cols, beta: 1, rwp, ldc: k)
    })
    figures.append(Figure(name: name + " backward-filter", flops: flops, kernelSeconds: tbf, gemmSeconds: gbf,
                          note: "(GEMMs \(f)x\(k)x\(band * pitch); one GEMM \(f)x\(k)x\(cols): \(gflops(flops, obf)) GFLOP/s)"))
    var tbd = 0.0
    if backwardData, let tband = bands.transposedRows {
        let inH = s.inputRows.count, inW = s.inputCols.count
        let gbd: Double, obd: Double
        (tbd, gbd, obd) = bestTriple(reps, {
            conv2d_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dy), weight: UnsafeBufferPointer(wt), dx: dx, workspace: ws)
        }, {
            for img in 0..<n {
                for r0 in stride(from: 0, to: inH, by: tband) {
                    let cols = min(tband, inH - r0) * inW
                    Float.gemm(transA: false, transB: false, m: c, n: cols, k: f * taps, alpha: 1, wp, lda: f * taps,
                               bp, ldb: cols, beta: 0, dxp + img * c * s.inputPlane + r0 * inW, ldc: s.inputPlane)
                }
            }
        }, {
            Float.gemm(transA: false, transB: false, m: c, n: cols, k: f * taps, alpha: 1, wp, lda: f * taps, bp, ldb: cols,
                       beta: 0, cp, ldc: cols)
        })
        figures.append(Figure(name: name + " backward-data", flops: flops, kernelSeconds: tbd, gemmSeconds: gbd,
                              note: "(GEMMs \(c)x\(tband * inW)x\(f * taps); one GEMM \(c)x\(cols)x\(f * taps): \(gflops(flops, obd)) GFLOP/s)"))
    } else if backwardData {
        // GEMM + col2im: dcol [K, rows*outW] = W^T * dy per band, into a scratch band.
        let gbd: Double, obd: Double
        (tbd, gbd, obd) = bestTriple(reps, {
            conv2d_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dy), weight: UnsafeBufferPointer(wt), dx: dx, workspace: ws)
        }, {
            forBands { img, r0, rows in
                Float.gemm(transA: true, transB: false, m: k, n: rows * outW, k: f, alpha: 1, wp, lda: k,
                           dyp + img * f * plane + r0 * outW, ldb: plane, beta: 0, cp, ldc: rows * outW)
            }
        }, {
            Float.gemm(transA: true, transB: false, m: k, n: cols, k: f, alpha: 1, wp, lda: k, bp, ldb: cols, beta: 0, cp, ldc: cols)
        })
        figures.append(Figure(name: name + " backward-data", flops: flops, kernelSeconds: tbd, gemmSeconds: gbd,
                              note: "(GEMMs \(k)x\(band * outW)x\(f) + col2im; one GEMM \(k)x\(cols)x\(f): \(gflops(flops, obd)) GFLOP/s)"))
    }
    // The patch matrices alone, nearly: forward for one output channel (a 1-row GEMM).
    let y1 = allocate(n * plane)
    let tIm2col = best(reps) {
        conv2d_forward(g, s, batch: n, outChannels: 0..<1, x: UnsafeBufferPointer(x),
                       weight: UnsafeBufferPointer(rebasing: wt[0..<k]), bias: nil, y: y1, workspace: ws)
    }
    y1.deallocate()
    print("  \(name) forward for one output channel (about im2col alone): \(ms2(tIm2col)) ms")
    let tbb = best(reps) {
        conv2d_backward_bias(batch: n, channels: f, plane: plane, dy: UnsafeBufferPointer(dy), dbias: db)
    }
    print("  \(name) bias gradient: \(ms2(tbb)) ms")

    conv2d_forward(g, s, batch: n, x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(wt),
                   bias: UnsafeBufferPointer(bias), y: y, workspace: ws)
    dw.update(repeating: 0)
    conv2d_backward_filter(g, s, batch: n, x: UnsafeBufferPointer(x), dy: UnsafeBufferPointer(dy), dweight: dw, workspace: ws)
    db.update(repeating: 0)
    conv2d_backward_bias(batch: n, channels: f, plane: plane, dy: UnsafeBufferPointer(dy), dbias: db)
    checks["\(g.layer).forward"] = sample(y)
    checks["\(g.layer).backward-filter"] = Array(dw)
    checks["\(g.layer).backward-bias"] = Array(db)
    if backwardData {
        conv2d_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dy), weight: UnsafeBufferPointer(wt), dx: dx, workspace: ws)
        checks["\(g.layer).backward-data"] = sample(dx)
    }
    return StepSeconds(forward: tf, backward: tbf + tbd + tbb)
}

func measureReLU(_ name: String, count: Int, reps: Int, into figures: inout [MemoryFigure],
                 checks: inout [String: [Float]]) -> StepSeconds {
    let x = allocate(count), y = allocate(count), dy = allocate(count), dx = allocate(count)
    fillRandom(x, seed: 41); fillRandom(dy, seed: 42)
    defer { for p in [x, y, dy, dx] { p.deallocate() } }
    let (tf, cf) = bestPair(reps, { relu_forward(x: UnsafeBufferPointer(x), y: y) }, {
        copyBytes(y, x, 4 * count)
    })
    // The runtime passes the forward output as `x` (y > 0 is the same test).
    relu_forward(x: UnsafeBufferPointer(x), y: y)
    let (tb, cb) = bestPair(reps, { relu_backward(x: UnsafeBufferPointer(y), dy: UnsafeBufferPointer(dy), dx: dx) }, {
        copyBytes(dx, dy, 4 * count)
        copyBytes(dx, y, 2 * count)
    })
    figures.append(MemoryFigure(name: "\(name) forward [\(count)]", seconds: tf, bytes: 8 * count, memcpySeconds: cf))
    figures.append(MemoryFigure(name: "\(name) backward [\(count)]", seconds: tb, bytes: 12 * count, memcpySeconds: cb))
    checks["\(name).forward"] = sample(y)
    checks["\(name).backward"] = sample(dx)
    return StepSeconds(forward: tf, backward: tb)
}

func measureMaxPool(_ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, reps: Int, into figures: inout [MemoryFigure],
                    checks: inout [String: [Float]]) -> StepSeconds {
    let planes = n * g.channels
    let x = allocate(planes * s.inputPlane), y = allocate(planes * s.outputPlane), dy = allocate(y.count), dx = allocate(x.count)
    let argmax = UnsafeMutableBufferPointer<Int32>.allocate(capacity: y.count)
    argmax.initialize(repeating: 0)
    fillRandom(x, seed: 51); fillRandom(dy, seed: 52)
    defer { for p in [x, y, dy, dx] { p.deallocate() }; argmax.deallocate() }
    let fBytes = 4 * (x.count + 2 * y.count), bBytes = 4 * (dx.count + 2 * dy.count)
    let (tf, cf) = bestPair(reps, { maxpool2d_forward(g, s, batch: n, x: UnsafeBufferPointer(x), y: y, argmax: argmax) }, {
        copyBytes(dx, x, fBytes / 2)
    })
    let (tb, cb) = bestPair(reps, {
        maxpool2d_backward(g, s, batch: n, dy: UnsafeBufferPointer(dy), argmax: UnsafeBufferPointer(argmax), dx: dx)
    }, {
        copyBytes(dx, x, bBytes / 2)
    })
    let name = "\(g.layer) \(n)x\(g.channels)x\(s.inputRows.count)x\(s.inputCols.count)"
    figures.append(MemoryFigure(name: name + " forward", seconds: tf, bytes: fBytes, memcpySeconds: cf))
    figures.append(MemoryFigure(name: name + " backward", seconds: tb, bytes: bBytes, memcpySeconds: cb))
    maxpool2d_forward(g, s, batch: n, x: UnsafeBufferPointer(x), y: y, argmax: argmax)
    maxpool2d_backward(g, s, batch: n, dy: UnsafeBufferPointer(dy), argmax: UnsafeBufferPointer(argmax), dx: dx)
    checks["\(g.layer).forward"] = sample(y)
    checks["\(g.layer).argmax"] = stride(from: 0, to: argmax.count, by: 997).map { Float(argmax[$0]) }
    checks["\(g.layer).backward"] = sample(dx)
    return StepSeconds(forward: tf, backward: tb)
}

func shardDims(_ s: SpatialShard, input: Bool) -> String {
    input ? "\(s.inputRows.count)x\(s.inputCols.count)" : "\(s.outputRows.count)x\(s.outputCols.count)"
}

/// Milliseconds to two decimals.
func ms2(_ seconds: Double) -> String { String((seconds * 1e5).rounded() / 100) }

/// memcpy of `bytes` bytes from `src` to `dst`, the reference of a memory-bound kernel.
func copyBytes(_ dst: UnsafeMutableBufferPointer<Float>, _ src: UnsafeMutableBufferPointer<Float>, _ bytes: Int) {
    precondition(bytes <= 4 * min(dst.count, src.count), "copy of \(bytes) bytes")
    if let d = dst.baseAddress, let s = src.baseAddress { memcpy(d, s, bytes) }
}

func gbs(_ bytes: Int, _ seconds: Double) -> String { String((Double(bytes) / seconds * 1e-8).rounded() / 10) }

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
