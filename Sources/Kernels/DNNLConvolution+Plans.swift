import CDNNL

// The primitives of DNNLConvolution's passes, each over one ConvProblem, with the
// reorders between the caller's buffers and the primitive's formats (DNNLStaged).

extension DNNLConvolution {
    /// Weight dims in oneDNN's logical order: `[F, C, KH, KW]`, or with groups
    /// `[G, F/G, C/G, KH, KW]` (the same memory as PyTorch's `[F, C/G, KH, KW]`).
    var weightDims: [Int] {
        let g = geometry
        return g.groups == 1 ? [outChannels.count, g.inChannels, g.kernelHeight, g.kernelWidth]
            : [g.groups, g.groupOutChannels, g.groupInChannels, g.kernelHeight, g.kernelWidth]
    }

    var userWeightDesc: dnnl_memory_desc_t {
        plainDescriptor(weightDims, geometry.groups == 1 ? dnnl_oihw : dnnl_goihw)
    }

    var userBiasDesc: dnnl_memory_desc_t { plainDescriptor([outChannels.count], dnnl_x) }

    /// The caller's x (or dx) over `region` (global): its whole buffer, or a view into it.
    func userInputDesc(_ region: ConvRegion) -> dnnl_memory_desc_t {
        let full = input.descriptor(n: batch, c: geometry.inChannels, h: shard.inputRows.count, w: shard.inputCols.count)
        if region == ConvRegion(rows: shard.inputRows, cols: shard.inputCols) { return full }
        return subDescriptor(full, dims: [batch, geometry.inChannels, region.rows.count, region.cols.count],
                             offsets: [0, 0, region.rows.lowerBound - shard.inputRows.lowerBound,
                                       region.cols.lowerBound - shard.inputCols.lowerBound])
    }

    /// The caller's y (or dy) over `region` (global).
    func userOutputDesc(_ region: ConvRegion) -> dnnl_memory_desc_t {
        let full = output.descriptor(n: batch, c: outChannels.count, h: shard.outputRows.count, w: shard.outputCols.count)
        if region == ConvRegion(rows: shard.outputRows, cols: shard.outputCols) { return full }
        return subDescriptor(full, dims: [batch, outChannels.count, region.rows.count, region.cols.count],
                             offsets: [0, 0, region.rows.lowerBound - shard.outputRows.lowerBound,
                                       region.cols.lowerBound - shard.outputCols.lowerBound])
    }

    /// Descriptors in `any` format, so the primitive picks its own (nChw16c and
    /// OIhw16i16o-like blocked weights with AVX-512).
    func anyDescriptors(_ p: ConvProblem) -> (src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t,
                                               bias: dnnl_memory_desc_t, dst: dnnl_memory_desc_t) {
        (plainDescriptor([batch, geometry.inChannels, p.rows.input.count, p.cols.input.count], dnnl_format_tag_any),
         plainDescriptor(weightDims, dnnl_format_tag_any),
         plainDescriptor([outChannels.count], dnnl_format_tag_any),
         plainDescriptor([batch, outChannels.count, p.outputs.rows.count, p.outputs.cols.count], dnnl_format_tag_any))
    }

    /// Strides, dilations (oneDNN counts the gaps: d - 1) and per-side padding.
    func spatial(_ p: ConvProblem) -> (strides: [Int64], dilates: [Int64], low: [Int64], high: [Int64]) {
        let g = geometry
        return ([Int64(g.strideH), Int64(g.strideW)], [Int64(g.dilationH - 1), Int64(g.dilationW - 1)],
                [Int64(p.rows.padLow), Int64(p.cols.padLow)], [Int64(p.rows.padHigh), Int64(p.cols.padHigh)])
    }

    /// The forward primitive descriptor of `p` (also the hint the backward passes need).
    func forwardPD(_ p: ConvProblem, prefer: String? = nil) throws(DNNLBuildError) -> dnnl_primitive_desc_t {
        var (src, weights, bias, dst) = anyDescriptors(p)
        let s = spatial(p)
        var cd = dnnl_convolution_desc_t()
        let status = withOptionalPointer(&bias, hasBias) { b in
            dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &src, &weights,
                                                       b, &dst, s.strides, s.dilates, s.low, s.high)
        }
        guard status == dnnl_success else { throw DNNLBuildError(what: "forward descriptor", status: status) }
        return try makePrimitiveDesc(&cd, hint: nil, "forward", prefer: prefer)
    }
}

/// Calls `body` with a pointer to `value`, or nil when `present` is false.
func withOptionalPointer<V, R>(_ value: inout V, _ present: Bool, _ body: (UnsafePointer<V>?) -> R) -> R {
    present ? withUnsafePointer(to: &value) { body($0) } : body(nil)
}

/// The primitive descriptor of `desc`: oneDNN's first choice, or with `prefer` the first
/// implementation of that name (so the pieces of a block run the whole block's kernel;
/// on a narrow piece oneDNN may otherwise pick another, which rounds differently).
func makePrimitiveDesc<D>(_ desc: inout D, hint: dnnl_primitive_desc_t?, _ what: String,
                          prefer: String? = nil) throws(DNNLBuildError) -> dnnl_primitive_desc_t {
    let engine = DNNLEngine.shared.engine
    if let prefer {
        var it: dnnl_primitive_desc_iterator_t?
        let status = withUnsafePointer(to: &desc) {
            dnnl_primitive_desc_iterator_create(&it, UnsafeRawPointer($0), nil, engine, hint)
        }
        if status == dnnl_success, let it {
            defer { dnnl_primitive_desc_iterator_destroy(it) }
            repeat {
                guard let pd = dnnl_primitive_desc_iterator_fetch(it) else { break }
                var s: UnsafePointer<CChar>?
                dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s)
                if let s, String(cString: s) == prefer { return pd }
                dnnl_primitive_desc_destroy(pd)
            } while dnnl_primitive_desc_iterator_next(it) == dnnl_success
        }
    }
    var pd: dnnl_primitive_desc_t?
    let status = withUnsafePointer(to: &desc) {
        dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), nil, engine, hint)
    }
    guard status == dnnl_success, let pd else { throw DNNLBuildError(what: what, status: status) }
    return pd
}

/// Forward over one output rectangle.
final class ConvForwardPlan {
    let conv: DNNLPrimitive
    let x: DNNLStaged
    let w: DNNLStaged
    let b: DNNLStaged?
    let y: DNNLStaged

    init(_ c: DNNLConvolution, _ p: ConvProblem, prefer: String? = nil) throws(DNNLBuildError) {
        conv = DNNLPrimitive(try c.forwardPD(p, prefer: prefer))
        x = DNNLStaged(user: c.userInputDesc(p.inputs), primitive: conv.desc(dnnl_query_src_md), input: true)
        w = DNNLStaged(user: c.userWeightDesc, primitive: conv.desc(dnnl_query_weights_md), input: true)
        b = c.hasBias ? DNNLStaged(user: c.userBiasDesc, primitive: conv.desc(dnnl_query_weights_md, 1), input: true) : nil
        y = DNNLStaged(user: c.userOutputDesc(p.outputs), primitive: conv.desc(dnnl_query_dst_md), input: false)
        conv.set(DNNL_ARG_SRC, x.memory)
        conv.set(DNNL_ARG_WEIGHTS, w.memory)
        if let b { conv.set(DNNL_ARG_BIAS, b.memory) }
        conv.set(DNNL_ARG_DST, y.memory)
    }

    var scratchBytes: Int { [x, w, y].reduce(b?.scratchBytes ?? 0) { $0 + $1.scratchBytes } }

    func run(x xp: UnsafePointer<Float>, weight wp: UnsafePointer<Float>, bias bp: UnsafePointer<Float>?,
             y yp: UnsafeMutablePointer<Float>) {
        x.bindInput(xp)
        w.bindInput(wp)
        if let b, let bp { b.bindInput(bp) }
        y.bindOutput(yp)
        conv.run()
        y.finishOutput()
    }
}

/// Backward-data over one rectangle of dx: the outputs whose windows meet it, their
/// gradient over what they read, and the part inside the rectangle copied out (zeros
/// where nothing reads).
final class ConvBackwardDataPlan {
    let conv: DNNLPrimitive?
    let dy: DNNLStaged?
    let w: DNNLStaged?
    /// The primitive's dx: the caller's memory when direct, else a scratch.
    let dx: DNNLMemory?
    /// With a scratch: the view of it inside the rectangle, the caller's memory there,
    /// and the reorder between them.
    let copyOut: (view: DNNLMemory, user: DNNLMemory, reorder: DNNLPrimitive)?
    /// The rectangle of dx (local rows and columns) to zero first, when not all of it is
    /// computed.
    let zeroRegion: ConvRegion?
    let layout: ActivationLayout
    let dims: (n: Int, c: Int, h: Int, w: Int)

    init(_ c: DNNLConvolution, _ p: ConvProblem?, dx region: ConvRegion, prefer: String? = nil) throws(DNNLBuildError) {
        layout = c.input
        dims = (c.batch, c.geometry.inChannels, c.shard.inputRows.count, c.shard.inputCols.count)
        let local = ConvRegion(rows: region.rows.lowerBound - c.shard.inputRows.lowerBound ..< region.rows.upperBound - c.shard.inputRows.lowerBound,
                               cols: region.cols.lowerBound - c.shard.inputCols.lowerBound ..< region.cols.upperBound - c.shard.inputCols.lowerBound)
        guard let p else {
            conv = nil; dy = nil; w = nil; dx = nil; copyOut = nil
            zeroRegion = local
            return
        }
        let hint = try c.forwardPD(p)
        defer { dnnl_primitive_desc_destroy(hint) }
        var (src, weights, _, dst) = c.anyDescriptors(p)
        let s = c.spatial(p)
        var bd = dnnl_convolution_desc_t()
        let status = dnnl_dilated_convolution_backward_data_desc_init(
            &bd, dnnl_convolution_direct, &src, &weights, &dst, s.strides, s.dilates, s.low, s.high)
        guard status == dnnl_success else { throw DNNLBuildError(what: "backward-data descriptor", status: status) }
        let conv = DNNLPrimitive(try makePrimitiveDesc(&bd, hint: hint, "backward-data", prefer: prefer))
        self.conv = conv
        dy = DNNLStaged(user: c.userOutputDesc(p.outputs), primitive: conv.desc(dnnl_query_diff_dst_md), input: true)
        w = DNNLStaged(user: c.userWeightDesc, primitive: conv.desc(dnnl_query_weights_md), input: true)
        let computed = ConvRegion(rows: p.rows.input.clamped(to: region.rows), cols: p.cols.input.clamped(to: region.cols))
        zeroRegion = computed == region ? nil : local
        let wanted = conv.desc(dnnl_query_diff_src_md)
        var user = c.userInputDesc(computed), mine = wanted
        if computed == p.inputs && dnnl_memory_desc_equal(&user, &mine) != 0 {
            dx = DNNLMemory(user, scratch: false)
            copyOut = nil
        } else {
            let scratch = DNNLMemory(wanted, scratch: true)
            let view = DNNLMemory(
                subDescriptor(wanted, dims: [c.batch, c.geometry.inChannels, computed.rows.count, computed.cols.count],
                              offsets: [0, 0, computed.rows.lowerBound - p.rows.input.lowerBound,
                                        computed.cols.lowerBound - p.cols.input.lowerBound]), scratch: false)
            view.bind(scratch.pointer)
            let out = DNNLMemory(user, scratch: false)
            let r = DNNLPrimitive.reorder(from: view.desc, to: user)
            r.set(DNNL_ARG_FROM, view)
            r.set(DNNL_ARG_TO, out)
            dx = scratch
            copyOut = (view, out, r)
        }
        conv.set(DNNL_ARG_DIFF_DST, dy!.memory)
        conv.set(DNNL_ARG_WEIGHTS, w!.memory)
        conv.set(DNNL_ARG_DIFF_SRC, dx!)
    }

    var scratchBytes: Int {
        (dy?.scratchBytes ?? 0) + (w?.scratchBytes ?? 0) + (copyOut == nil ? 0 : dx?.bytes ?? 0)
    }

    func run(dy dyp: UnsafePointer<Float>, weight wp: UnsafePointer<Float>, dx dxp: UnsafeMutablePointer<Float>) {
        if let zeroRegion {
            fillZero(dxp, layout: layout, n: dims.n, c: dims.c, h: dims.h, w: dims.w, region: zeroRegion)
        }
        guard let conv, let dy, let w, let dx else { return }
        dy.bindInput(dyp)
        w.bindInput(wp)
        if let copyOut {
            copyOut.user.bind(dxp)
            conv.run()
            copyOut.reorder.run()
        } else {
            dx.bind(dxp)
            conv.run()
        }
    }
}

/// Backward-weights over the whole block, added into the caller's gradients.
final class ConvBackwardWeightsPlan {
    let conv: DNNLPrimitive
    let x: DNNLStaged
    let dy: DNNLStaged
    let dw: DNNLStaged
    let db: DNNLStaged?

    init(_ c: DNNLConvolution, _ p: ConvProblem) throws(DNNLBuildError) {
        let hint = try c.forwardPD(p)
        defer { dnnl_primitive_desc_destroy(hint) }
        var (src, weights, bias, dst) = c.anyDescriptors(p)
        let s = c.spatial(p)
        var wd = dnnl_convolution_desc_t()
        let status = withOptionalPointer(&bias, c.hasBias) { b in
            dnnl_dilated_convolution_backward_weights_desc_init(
                &wd, dnnl_convolution_direct, &src, &weights, b, &dst, s.strides, s.dilates, s.low, s.high)
        }
        guard status == dnnl_success else { throw DNNLBuildError(what: "backward-weights descriptor", status: status) }
        conv = DNNLPrimitive(try makePrimitiveDesc(&wd, hint: hint, "backward-weights"))
        x = DNNLStaged(user: c.userInputDesc(p.inputs), primitive: conv.desc(dnnl_query_src_md), input: true)
        dy = DNNLStaged(user: c.userOutputDesc(p.outputs), primitive: conv.desc(dnnl_query_diff_dst_md), input: true)
        dw = DNNLStaged(user: c.userWeightDesc, primitive: conv.desc(dnnl_query_diff_weights_md), input: false, accumulate: true)
        db = c.hasBias
            ? DNNLStaged(user: c.userBiasDesc, primitive: conv.desc(dnnl_query_diff_weights_md, 1), input: false, accumulate: true)
            : nil
        conv.set(DNNL_ARG_SRC, x.memory)
        conv.set(DNNL_ARG_DIFF_DST, dy.memory)
        conv.set(DNNL_ARG_DIFF_WEIGHTS, dw.memory)
        if let db { conv.set(DNNL_ARG_DIFF_BIAS, db.memory) }
    }

    var scratchBytes: Int { [x, dy, dw].reduce(db?.scratchBytes ?? 0) { $0 + $1.scratchBytes } }

    func run(x xp: UnsafePointer<Float>, dy dyp: UnsafePointer<Float>, dweight dwp: UnsafeMutablePointer<Float>,
             dbias dbp: UnsafeMutablePointer<Float>?) {
        x.bindInput(xp)
        dy.bindInput(dyp)
        dw.bindOutput(dwp)
        if let db, let dbp { db.bindOutput(dbp) }
        conv.run()
        dw.finishOutput()
        db?.finishOutput()
    }
}

/// Zeroes `region` (local rows and columns) of an `[n, c, h, w]` block in `layout`
/// (a blocked layout's padded channels included): contiguous runs per row.
func fillZero(_ p: UnsafeMutablePointer<Float>, layout: ActivationLayout, n: Int, c: Int, h: Int, w: Int, region: ConvRegion) {
    let b = layout.blockSize, planes = n * layout.paddedChannels(c) / b
    let run = region.cols.count * b
    for plane in 0..<planes {
        for r in region.rows {
            (p + ((plane * h + r) * w + region.cols.lowerBound) * b).update(repeating: 0, count: run)
        }
    }
}
