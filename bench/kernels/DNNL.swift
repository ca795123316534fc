import CDNNL
import Geometry
import Kernels

#if canImport(Glibc)
import Glibc
#endif

// Convolution on oneDNN (issue 11): distconv's kernel API (DNNLConvolution, blocked
// layout) next to the bare oneDNN primitive on the same shapes and layout, created here
// with the C API and nothing of distconv in between, and next to the im2col path
// (conv2d_*), in one run. Then the default model's two convolutions at batch 64.

/// Times of three bodies, one list per body with one time per round, after a warm-up of
/// each; the order rotates every round (a, b, c; b, c, a; c, a, b) so none always runs
/// after the same one (the im2col path leaves the caches full of dirty lines for whoever
/// runs next). Every body gets the same warm-up and the same number of runs.
func rotatingTimes(_ repeats: Int, _ a: () -> Void, _ b: () -> Void, _ c: () -> Void) -> [[Double]] {
    func run(_ i: Int) {
        switch i {
        case 0: a()
        case 1: b()
        default: c()
        }
    }
    for i in 0..<3 { run(i) }
    var times = [[Double]](repeating: [], count: 3)
    for round in 0..<(3 * ((repeats + 2) / 3)) {
        for k in 0..<3 {
            let i = (round + k) % 3
            let start = now()
            run(i)
            times[i].append(now() - start)
        }
    }
    return times
}

func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func round3(_ v: Double) -> String { String((v * 1000).rounded() / 1000) }

/// One pass measured three ways (seconds).
struct DNNLFigure {
    var name: String
    var flops: Double
    /// Best of the rounds (seconds).
    var api: Double
    var bare: Double
    var im2col: Double
    /// The median over rounds of bare / api measured in the same round (back to back, so
    /// load from other processes that changes between rounds cancels).
    var pairedRatio: Double
}

/// The bare primitives of one convolution: src and dst in `tag`, weights in the
/// forward primitive's format (reordered once, outside the timing), every buffer
/// allocated by oneDNN.
final class BareConvolution {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    var forward: dnnl_primitive_t?, backwardData: dnnl_primitive_t?, backwardWeights: dnnl_primitive_t?
    var forwardArgs: [dnnl_exec_arg_t] = [], dataArgs: [dnnl_exec_arg_t] = [], weightArgs: [dnnl_exec_arg_t] = []
    var memories: [dnnl_memory_t?] = []
    let implementation: String

    init(n: Int, c: Int, f: Int, input: (Int, Int), output: (Int, Int), padLow: (Int, Int), padHigh: (Int, Int),
         srcTag: dnnl_format_tag_t, dstTag: dnnl_format_tag_t) {
        var e: dnnl_engine_t?, s: dnnl_stream_t?
        check(dnnl_engine_create(&e, dnnl_cpu, 0))
        check(dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue))
        engine = e!
        stream = s!
        func md(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
            var m = dnnl_memory_desc_t()
            check(dnnl_memory_desc_init_by_tag(&m, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag))
            return m
        }
        var src = md([n, c, input.0, input.1], srcTag), dst = md([n, f, output.0, output.1], dstTag)
        var wAny = md([f, c, 3, 3], dnnl_format_tag_any), bias = md([f], dnnl_x)
        // dx in the format backward-data picks (with a plain NCHW dx, as conv1's data
        // would be, oneDNN 2.6 has only its reference kernel).
        var srcAny = md([n, c, input.0, input.1], dnnl_format_tag_any)
        let strides: [Int64] = [1, 1], lo = [Int64(padLow.0), Int64(padLow.1)], hi = [Int64(padHigh.0), Int64(padHigh.1)]
        var cd = dnnl_convolution_desc_t(), bd = dnnl_convolution_desc_t(), wd = dnnl_convolution_desc_t()
        check(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &src, &wAny, &bias, &dst, strides, lo, hi))
        check(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &srcAny, &wAny, &dst, strides, lo, hi))
        check(dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src, &wAny, &bias, &dst, strides, lo, hi))
        var fpd: dnnl_primitive_desc_t?, bpd: dnnl_primitive_desc_t?, wpd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&fpd, &cd, nil, engine, nil))
        check(dnnl_primitive_desc_create(&bpd, &bd, nil, engine, fpd))
        check(dnnl_primitive_desc_create(&wpd, &wd, nil, engine, fpd))
        func name(_ pd: dnnl_primitive_desc_t?) -> String {
            var p: UnsafePointer<CChar>?
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &p)
            return p.map { String(cString: $0) } ?? "?"
        }
        implementation = "\(name(fpd)) / \(name(bpd)) / \(name(wpd))"
        var mems: [dnnl_memory_t?] = []
        func memory(_ pd: dnnl_primitive_desc_t?, _ q: dnnl_query_t, _ i: Int32 = 0, seed: UInt64) -> dnnl_memory_t? {
            var m: dnnl_memory_t?
            check(dnnl_memory_create(&m, dnnl_primitive_desc_query_md(pd, q, i), e, distconv_dnnl_memory_allocate()))
            var p: UnsafeMutableRawPointer?
            check(dnnl_memory_get_data_handle(m, &p))
            let count = Int(dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, q, i))) / 4
            fillRandom(UnsafeMutableBufferPointer(start: p!.assumingMemoryBound(to: Float.self), count: count), seed: seed)
            mems.append(m)
            return m
        }
        let x = memory(fpd, dnnl_query_src_md, seed: 1), w = memory(fpd, dnnl_query_weights_md, seed: 2)
        let b = memory(fpd, dnnl_query_weights_md, 1, seed: 3), y = memory(fpd, dnnl_query_dst_md, seed: 0)
        let dy = memory(bpd, dnnl_query_diff_dst_md, seed: 4), wb = memory(bpd, dnnl_query_weights_md, seed: 2)
        let dx = memory(bpd, dnnl_query_diff_src_md, seed: 0)
        let xw = memory(wpd, dnnl_query_src_md, seed: 1), dyw = memory(wpd, dnnl_query_diff_dst_md, seed: 4)
        let dw = memory(wpd, dnnl_query_diff_weights_md, seed: 0), db = memory(wpd, dnnl_query_diff_weights_md, 1, seed: 0)
        memories = mems
        func arg(_ a: Int32, _ m: dnnl_memory_t?) -> dnnl_exec_arg_t { dnnl_exec_arg_t(arg: a, memory: m) }
        forwardArgs = [arg(DNNL_ARG_SRC, x), arg(DNNL_ARG_WEIGHTS, w), arg(DNNL_ARG_BIAS, b), arg(DNNL_ARG_DST, y)]
        dataArgs = [arg(DNNL_ARG_DIFF_DST, dy), arg(DNNL_ARG_WEIGHTS, wb), arg(DNNL_ARG_DIFF_SRC, dx)]
        weightArgs = [arg(DNNL_ARG_SRC, xw), arg(DNNL_ARG_DIFF_DST, dyw), arg(DNNL_ARG_DIFF_WEIGHTS, dw), arg(DNNL_ARG_DIFF_BIAS, db)]
        check(dnnl_primitive_create(&forward, fpd))
        check(dnnl_primitive_create(&backwardData, bpd))
        check(dnnl_primitive_create(&backwardWeights, wpd))
        for pd in [fpd, bpd, wpd] { dnnl_primitive_desc_destroy(pd) }
    }

    func run(_ p: dnnl_primitive_t?, _ args: [dnnl_exec_arg_t]) {
        args.withUnsafeBufferPointer { check(dnnl_primitive_execute(p, stream, Int32($0.count), $0.baseAddress)) }
        check(dnnl_stream_wait(stream))
    }

    deinit {
        for m in memories { dnnl_memory_destroy(m) }
        for p in [forward, backwardData, backwardWeights] { dnnl_primitive_destroy(p) }
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }
}

private func check(_ s: dnnl_status_t, line: Int = #line) {
    if s != dnnl_success { print("bench: oneDNN status \(s.rawValue) at DNNL.swift:\(line)"); exit(1) }
}

/// The three passes of one convolution shard three ways; appends to `figures`.
func measureDNNLConvolution(_ g: Conv2DGeometry, _ s: SpatialShard, batch n: Int, label: String,
                            input: ActivationLayout, output: ActivationLayout, repeats: Int,
                            into figures: inout [DNNLFigure], bare withBare: Bool = true) {
    let c = g.inChannels, f = g.outChannels
    guard let conv = try? DNNLConvolution(g, s, batch: n, input: input, output: output) else {
        fatalError("\(label): DNNLConvolution rejected the shape")
    }
    // distconv's buffers in the blocked layouts, 64-byte aligned as oneDNN's own.
    let x = allocateAligned(conv.inputCount), w = allocate(conv.weightCount), b = allocate(f)
    let y = allocateAligned(conv.outputCount), dy = allocateAligned(conv.outputCount), dx = allocateAligned(conv.inputCount)
    let dw = allocate(conv.weightCount), db = allocate(f)
    fillRandom(x, seed: 1); fillRandom(w, seed: 2); fillRandom(b, seed: 3); fillRandom(dy, seed: 4)
    let apiF = { conv.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y) }
    let apiD = { conv.backwardData(dy: UnsafeBufferPointer(dy), weight: UnsafeBufferPointer(w), dx: dx) }
    let apiW = { conv.backwardWeights(x: UnsafeBufferPointer(x), dy: UnsafeBufferPointer(dy), dweight: dw, dbias: db) }
    // The im2col path on NCHW buffers of the same shard.
    let xi = allocate(n * c * s.inputPlane), yi = allocate(n * f * s.outputPlane), dyi = allocate(yi.count)
    let dxi = allocate(xi.count), ws = allocate(conv2d_workspace_count(g, s))
    fillRandom(xi, seed: 1); fillRandom(dyi, seed: 4)
    let imF = { conv2d_forward(g, s, batch: n, x: UnsafeBufferPointer(xi), weight: UnsafeBufferPointer(w),
                               bias: UnsafeBufferPointer(b), y: yi, workspace: ws) }
    let imD = { conv2d_backward_data(g, s, batch: n, dy: UnsafeBufferPointer(dyi), weight: UnsafeBufferPointer(w), dx: dxi, workspace: ws) }
    let imW = {
        conv2d_backward_filter(g, s, batch: n, x: UnsafeBufferPointer(xi), dy: UnsafeBufferPointer(dyi), dweight: dw, workspace: ws)
        conv2d_backward_bias(batch: n, channels: f, plane: s.outputPlane, dy: UnsafeBufferPointer(dyi), dbias: db)
    }
    let rows = WindowPads(g.kernelHeight, g.paddingH, s.inputRows, s.outputRows, g.height)
    let cols = WindowPads(g.kernelWidth, g.paddingW, s.inputCols, s.outputCols, g.width)
    let bare = withBare ? BareConvolution(
        n: n, c: c, f: f, input: (s.inputRows.count, s.inputCols.count), output: (s.outputRows.count, s.outputCols.count),
        padLow: (rows.low, cols.low), padHigh: (rows.high, cols.high), srcTag: input.dnnlTag, dstTag: output.dnnlTag) : nil
    let impl = conv.implementations
    print("\(label): \(n)x\(c)x\(s.inputRows.count)x\(s.inputCols.count) -> \(n)x\(f)x\(s.outputRows.count)x\(s.outputCols.count), "
          + "\(input) -> \(output); api on \(impl.forward) / \(impl.backwardData) / \(impl.backwardWeights)"
          + (conv.forwardIsDirect ? " in place" : " through scratch") + (bare.map { "; bare on \($0.implementation)" } ?? ""))
    let flops = g.flops(batch: n, shard: s)
    let noop = {}
    let passes: [(String, () -> Void, () -> Void, () -> Void)] = [
        ("forward", apiF, bare.map { b in { b.run(b.forward, b.forwardArgs) } } ?? noop, imF),
        ("backward-data", apiD, bare.map { b in { b.run(b.backwardData, b.dataArgs) } } ?? noop, imD),
        ("backward-filter", apiW, bare.map { b in { b.run(b.backwardWeights, b.weightArgs) } } ?? noop, imW),
    ]
    for (pass, a, bb, im) in passes {
        let t = rotatingTimes(repeats, a, bb, im)
        figures.append(DNNLFigure(name: "\(label) \(pass)", flops: flops, api: t[0].min()!, bare: withBare ? t[1].min()! : .nan,
                                  im2col: t[2].min()!, pairedRatio: withBare ? median(zip(t[1], t[0]).map { $0 / $1 }) : .nan))
    }
    if s != g.wholeShard {
        // Overlap's calls: the interior (no halo read) and the eight strips one output
        // wide around it, against the whole block in one call.
        func parts(_ r: Range<Int>) -> [Range<Int>] {
            [r.lowerBound..<(r.lowerBound + 1), (r.lowerBound + 1)..<(r.upperBound - 1), (r.upperBound - 1)..<r.upperBound]
        }
        let pieces = parts(s.outputRows).flatMap { r in parts(s.outputCols).map { (r, $0) } }
        let dxPieces = parts(s.inputRows).flatMap { r in parts(s.inputCols).map { (r, $0) } }
        let piecewise = {
            for (r, c) in pieces {
                conv.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y,
                             outputRows: r, outputCols: c)
            }
        }
        let dxPiecewise = {
            for (r, c) in dxPieces {
                conv.backwardData(dy: UnsafeBufferPointer(dy), weight: UnsafeBufferPointer(w), dx: dx, inputRows: r, inputCols: c)
            }
        }
        let interior = {
            conv.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y,
                         outputRows: pieces[4].0, outputCols: pieces[4].1)
        }
        // The cheap form of overlap: the whole block in place while the halo is in flight
        // (its boundary outputs read stale halo), then the strips that read the halo
        // again, here the top row and the left column (this shard's halo sides).
        let strips = {
            apiF()
            conv.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y,
                         outputRows: s.outputRows.lowerBound..<(s.outputRows.lowerBound + 1), outputCols: s.outputCols)
            conv.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y,
                         outputRows: (s.outputRows.lowerBound + 1)..<s.outputRows.upperBound,
                         outputCols: s.outputCols.lowerBound..<(s.outputCols.lowerBound + 1))
        }
        let (_, ts) = bestPair(repeats, apiF, strips)
        let topStrip = {
            conv.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y,
                         outputRows: s.outputRows.lowerBound..<(s.outputRows.lowerBound + 1), outputCols: s.outputCols)
        }
        let leftStrip = {
            conv.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y,
                         outputRows: (s.outputRows.lowerBound + 1)..<s.outputRows.upperBound,
                         outputCols: s.outputCols.lowerBound..<(s.outputCols.lowerBound + 1))
        }
        let (tTop, tLeft) = bestPair(repeats * 4, topStrip, leftStrip)
        let (tw, tp, ti) = bestTriple(repeats, apiF, piecewise, interior)
        let (tdw, tdp) = bestPair(repeats, apiD, dxPiecewise)
        print("  pieces: forward whole \(round2(tw * 1e3)) ms, whole + the 2 halo-side strips again \(round2(ts * 1e3)) ms "
              + "(x\(round2(ts / tw)); top row alone \(round3(tTop * 1e3)) ms, left column alone \(round3(tLeft * 1e3)) ms), interior + 8 strips \(round2(tp * 1e3)) ms "
              + "(x\(round2(tp / tw))), interior alone \(round2(ti * 1e3)) ms; backward-data whole \(round2(tdw * 1e3)) ms, "
              + "9 pieces \(round2(tdp * 1e3)) ms (x\(round2(tdp / tdw))); scratch \(conv.scratchBytes >> 20) MB")
    }
    // The API's forward against the im2col path's on the same values (NCHW from blocked).
    let back = allocate(n * f * s.outputPlane)
    let reorder = ActivationReorder(n: n, c: f, h: s.outputRows.count, w: s.outputCols.count, from: output, to: .nchw)
    let xn = allocate(conv.inputCount)
    let toInput = ActivationReorder(n: n, c: c, h: s.inputRows.count, w: s.inputCols.count, from: .nchw, to: input)
    toInput(UnsafeBufferPointer(xi), xn)
    conv.forward(x: UnsafeBufferPointer(xn), weight: UnsafeBufferPointer(w), bias: UnsafeBufferPointer(b), y: y)
    imF()
    reorder(UnsafeBufferPointer(y), back)
    var diff = 0.0, scale = 0.0
    for i in back.indices { diff = max(diff, Double(abs(back[i] - yi[i]))); scale = max(scale, Double(abs(yi[i]))) }
    print("  api forward vs im2col forward: max |difference| / max |value| = \(diff / max(scale, 1e-30))")
    for p in [x, y, dy, dx] { freeAligned(p) }
    for p in [w, b, dw, db, xi, yi, dyi, dxi, ws, back, xn] { p.deallocate() }
}

/// A zeroed buffer on a 64-byte boundary (one AVX-512 vector, one cache line): malloc's
/// large blocks start 16 bytes past a page, and every 64-byte load would then straddle
/// two lines.
/// BENCH_MISALIGN=k starts the buffers k floats past the boundary, to see what that costs.
func allocateAligned(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
    let skip = getenvInt("BENCH_MISALIGN") ?? 0
    let raw = UnsafeMutableRawPointer.allocate(byteCount: (n + skip) * 4, alignment: 64)
    let p = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: n + skip) + skip, count: n)
    p.initialize(repeating: 0)
    return p
}

func freeAligned(_ p: UnsafeMutableBufferPointer<Float>) {
    UnsafeMutableRawPointer(p.baseAddress! - (getenvInt("BENCH_MISALIGN") ?? 0)).deallocate()
}

/// Per-side padding of one axis of a stride-1, dilation-1 convolution shard.
struct WindowPads {
    var low: Int, high: Int
    init(_ k: Int, _ p: Int, _ input: Range<Int>, _ output: Range<Int>, _ length: Int) {
        low = input.lowerBound - (output.lowerBound - p)
        high = (output.upperBound - 1 - p + k) - input.upperBound
    }
}

extension ActivationLayout {
    var dnnlTag: dnnl_format_tag_t {
        switch self {
        case .nchw: return dnnl_nchw
        case .blocked(8): return dnnl_nChw8c
        case .blocked(16): return dnnl_nChw16c
        default: return dnnl_nChw4c
        }
    }
}

func benchDNNL(repeats: Int) {
    DNNLEngine.setThreads(1)
    let layout = ActivationLayout.preferred
    print("")
    print("oneDNN: isa \(DNNLEngine.instructionSet), threads \(DNNLEngine.threads), layout \(layout); timed by "
          + (benchClock == CLOCK_THREAD_CPUTIME_ID ? "the thread's CPU clock (--wall-time for wall time)" : "wall time"))
    var figures: [DNNLFigure] = []
    guard let g = try? Conv2DGeometry(inChannels: 16, outChannels: 16, height: 256, width: 256, kernel: 3, padding: 1) else {
        fatalError("benchmark convolution shape rejected")
    }
    measureDNNLConvolution(g, g.wholeShard, batch: 4, label: "conv", input: layout, output: layout, repeats: repeats, into: &figures)
    let shard = SpatialShard(inputRows: 127..<256, inputCols: 127..<256, outputRows: 128..<256, outputCols: 128..<256)
    measureDNNLConvolution(g, shard, batch: 4, label: "conv 2x2 shard", input: layout, output: layout, repeats: repeats, into: &figures)

    // The default model's convolutions at batch 64 (conv1 reads the data in NCHW).
    var model: [DNNLFigure] = []
    if let c1 = try? Conv2DGeometry(layer: "conv1", inChannels: 1, outChannels: 16, height: 28, width: 28, kernel: 3, padding: 1),
       let c2 = try? Conv2DGeometry(layer: "conv2", inChannels: 16, outChannels: 32, height: 14, width: 14, kernel: 3, padding: 1) {
        measureDNNLConvolution(c1, c1.wholeShard, batch: 64, label: "fashion conv1", input: .nchw, output: layout,
                               repeats: repeats * 4, into: &model)
        measureDNNLConvolution(c2, c2.wholeShard, batch: 64, label: "fashion conv2", input: layout, output: layout,
                               repeats: repeats * 4, into: &model)
    }
    printDNNLFigures(figures, model)
}

func printDNNLFigures(_ figures: [DNNLFigure], _ model: [DNNLFigure]) {
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    func rate(_ f: DNNLFigure, _ t: Double) -> String { t.isNaN ? "-" : round1(f.flops / t * 1e-9) }
    print("")
    print("the small CNN's convolutions at batch 64, one thread (ms of " + (benchClock == CLOCK_THREAD_CPUTIME_ID ? "CPU" : "wall")
          + " time; conv1's backward-data is not needed in training)")
    print(pad("pass", 34) + pad("api", 10) + pad("bare", 10) + pad("im2col", 10) + "im2col/api")
    var sums = (api: 0.0, bare: 0.0, im2col: 0.0)
    for f in model {
        print(pad(f.name, 34) + pad(round2(f.api * 1e3), 10) + pad(round2(f.bare * 1e3), 10) + pad(round2(f.im2col * 1e3), 10)
              + round2(f.im2col / f.api))
        if !f.name.hasSuffix("conv1 backward-data") {
            sums.api += f.api; sums.bare += f.bare; sums.im2col += f.im2col
        }
    }
    print(pad("both, forward + backward", 34) + pad(round2(sums.api * 1e3), 10) + pad(round2(sums.bare * 1e3), 10)
          + pad(round2(sums.im2col * 1e3), 10) + round2(sums.im2col / sums.api))
    print("")
    print("oneDNN figures (one thread; GFLOP/s of " + (benchClock == CLOCK_THREAD_CPUTIME_ID ? "CPU" : "wall")
          + " time; api = DNNLConvolution, bare = the oneDNN primitive alone, same run)")
    print("GFLOP/s and api/bare are of each side's best round; 'paired' is the median over rounds of bare/api within a round")
    print(pad("pass", 34) + pad("api", 9) + pad("bare", 9) + pad("im2col", 9) + pad("api/bare", 10) + pad("(>=0.95)", 10)
          + pad("paired", 8) + pad("api/im2col", 12) + "(>=1.8)")
    for f in figures {
        let ab = f.bare / f.api, ai = f.im2col / f.api
        print(pad(f.name, 34) + pad(rate(f, f.api), 9) + pad(rate(f, f.bare), 9) + pad(rate(f, f.im2col), 9)
              + pad(round3(ab), 10) + pad(ab >= 0.95 ? "ok" : "MISS", 10) + pad(round3(f.pairedRatio), 8)
              + pad(round2(ai), 12) + (ai >= 1.8 ? "ok" : "MISS"))
    }
}
