import Geometry
import Kernels

/// `conv2d` on a shard. Weights `[Cout, Cin/groups, KH, KW]` and bias `[Cout]` as
/// PyTorch; this rank reads the filters of its output-channel block and computes its
/// output block from its input block plus halo. Weight gradients are partial sums over
/// the rank's block (allreduced).
///
/// Kernels: oneDNN's (`DNNLConvolution`, Float; input in the layout it arrives in, NCHW
/// or blocked, output blocked) or the reference im2col + GEMM path (any element type,
/// NCHW: the Double gradient check, grouped convolutions).
struct ConvolutionLayer: ShardLayer {
    let geometry: Conv2DGeometry
    let shard: SpatialShard
    let batch: Int
    let channels: Range<Int>
    let hasBias: Bool
    let onednn: Bool
    /// The images and channels of the input region.
    let inputImages: Range<Int>
    let inputChannels: Range<Int>
    let inputLayout: ActivationLayout
    let outputLayout: ActivationLayout
    let forwardWorkspace: Int
    var backwardWorkspace: Int { forwardWorkspace }
    var backwardReadsInput: Bool { true }

    init(op: Op, spec: Conv2DSpec, regions: ShardRegions) throws(KernelShapeError) {
        geometry = try Conv2DGeometry(
            layer: op.name, inChannels: op.inputShape[1], outChannels: spec.outChannels,
            height: op.inputShape[2], width: op.inputShape[3], kernelHeight: spec.kernel[0],
            kernelWidth: spec.kernel[1], strideH: spec.stride[0], strideW: spec.stride[1],
            paddingH: spec.padding[0], paddingW: spec.padding[1], dilationH: spec.dilation[0],
            dilationW: spec.dilation[1], groups: spec.groups)
        shard = SpatialShard(input: regions.input, output: regions.output)
        batch = regions.output.size[0]
        channels = regions.output.range(1)
        hasBias = spec.bias != nil
        onednn = regions.onednn && spec.groups == 1
        inputImages = regions.input.range(0)
        inputChannels = regions.input.range(1)
        inputLayout = regions.inputLayout
        outputLayout = regions.outputLayout
        precondition(onednn || (inputLayout == .nchw && outputLayout == .nchw),
                     "\(op.name): the reference convolution runs in NCHW, planned \(inputLayout) -> \(outputLayout)")
        forwardWorkspace = onednn ? 0 : conv2d_workspace_count(geometry, shard)
    }

    func makeKernels() throws(KernelShapeError) -> AnyObject? {
        guard onednn, shard.outputPlane > 0, batch > 0, !channels.isEmpty else { return nil }
        return try DNNLConvolution(geometry, shard, batch: batch, outChannels: channels, input: inputLayout,
                                   output: outputLayout, bias: hasBias)
    }

    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>) {
        // PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and bias.
        uniform_init(shape: shape, rect: rect, bound: defaultInitBound(fanIn: geometry.patchSize), seed: seed,
                     values: values)
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        forward(io, rows: shard.outputRows, cols: shard.outputCols)
        return 0
    }

    /// Forward over a sub-rectangle of the output block (global rows and columns): the
    /// overlap's interior and boundary strips. The reference kernels compute the whole
    /// block (only the first call, with the whole block, is made without oneDNN).
    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, rows: Range<Int>, cols: Range<Int>) {
        if onednn && io.kernels == nil { return }  // an empty block
        if let k = io.kernels as? DNNLConvolution {
            k.forward(x: floats(io.cx), weight: floats(io.parameter(0)), bias: hasBias ? floats(io.parameter(1)) : nil,
                      y: floats(io.y), outputRows: rows, outputCols: cols)
        } else {
            conv2d_forward(geometry, shard, batch: batch, outChannels: channels, x: io.cx, weight: io.parameter(0),
                           bias: hasBias ? io.parameter(1) : nil, y: io.y, workspace: io.workspace)
        }
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        backwardWeights(io)
        backwardData(io, rows: shard.inputRows, cols: shard.inputCols)
    }

    func backwardWeights<T: RuntimeScalar>(_ io: LayerIO<T>) {
        if onednn && io.kernels == nil { return }
        if let k = io.kernels as? DNNLConvolution {
            k.backwardWeights(x: floats(io.cx), dy: floats(io.cdy), dweight: floats(io.gradients[0]),
                              dbias: hasBias ? floats(io.gradients[1]) : nil)
            return
        }
        conv2d_backward_filter(geometry, shard, batch: batch, outChannels: channels, x: io.cx, dy: io.cdy,
                               dweight: io.gradients[0], workspace: io.workspace)
        if hasBias {
            conv2d_backward_bias(batch: batch, channels: channels.count, plane: shard.outputPlane, dy: io.cdy,
                                 dbias: io.gradients[1])
        }
    }

    /// Backward-data over a sub-rectangle of dx (global rows and columns of the input
    /// region): the reverse halo's strips first, then the rest.
    func backwardData<T: RuntimeScalar>(_ io: LayerIO<T>, rows: Range<Int>, cols: Range<Int>) {
        guard let dx = io.dx else { return }
        if onednn && io.kernels == nil { return dx.update(repeating: 0) }
        if let k = io.kernels as? DNNLConvolution {
            k.backwardData(dy: floats(io.cdy), weight: floats(io.parameter(0)), dx: floats(dx), inputRows: rows,
                           inputCols: cols)
        } else {
            conv2d_backward_data(geometry, shard, batch: batch, outChannels: channels, dy: io.cdy,
                                 weight: io.parameter(0), dx: dx, workspace: io.workspace)
        }
    }
}

extension ConvolutionLayer: LayerPartitioning {
    /// Any input layout in, blocked out; grouped convolutions stay on the reference
    /// kernels (a channel block of groups does not map to oneDNN's), in NCHW.
    static func layouts(of op: Op) -> LayerLayouts {
        guard case .conv2d(let s) = op.kind, s.groups == 1 else { return .nchw }
        return .blocking
    }

    /// The block's receptive field through kernel, stride, padding and dilation; with
    /// groups, only the input channels of the block's groups; the filters of its output
    /// channels (all of them unless channels are split).
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        guard case .conv2d(let s) = op.kind else { preconditionFailure("\(op.name) is not a convolution") }
        let (h, w) = op.window(block, kernel: s.kernel, stride: s.stride, padding: s.padding, dilation: s.dilation)
        let co = block.range(1)
        let cinPerGroup = op.inputShape[1] / s.groups, coutPerGroup = s.outChannels / s.groups
        let ci = co.isEmpty ? 0..<0 : (co.lowerBound / coutPerGroup * cinPerGroup)..<((co.upperBound - 1) / coutPerGroup * cinPerGroup + cinPerGroup)
        let filters = Rect(ranges: [co, 0..<cinPerGroup, 0..<s.kernel[0], 0..<s.kernel[1]])
        var params = [(s.weights, filters)]
        if let b = s.bias { params.append((b, Rect(ranges: [co]))) }
        return ForwardRegions(input: Rect(ranges: [block.range(0), ci, h, w]), filters: filters, result: block,
                              parameters: params, outputs: [block])
    }

    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        op.reads(forward, [op.input] + op.parameters)
    }

    /// One oneDNN call per pass, keyed by the output's block (the layout it computes in).
    static func work(_ kind: KernelWork.Kind, _ op: Op, _ r: ShardRegions) -> KernelWork {
        guard case .conv2d(let c) = op.kind else { preconditionFailure("\(op.name) is not a convolution") }
        return KernelWork(kind: kind, input: r.input.size, output: r.output.size, window: c.kernel + c.stride,
                          groups: c.groups, block: r.outputLayout.blockSize)
    }

    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] { [work(.convolutionForward, op, r)] }
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        dx ? [work(.convolutionBackwardData, op, r)] : []
    }
    static func backwardWeightsWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] {
        [work(.convolutionBackwardWeights, op, r)]
    }

    /// The boundary strips an overlapped convolution recomputes once its halo is in:
    /// each strip's outputs and the input rows and columns their windows read.
    static func stripWorks(of op: Op, _ r: ShardRegions, _ strips: [(rows: Range<Int>, cols: Range<Int>)]) -> [KernelWork] {
        guard case .conv2d(let c) = op.kind else { return [] }
        let input = r.input.size, output = r.output.size
        func span(_ n: Int, _ d: Int) -> Int { n == 0 ? 0 : (n - 1) * c.stride[d] + (c.kernel[d] - 1) * c.dilation[d] + 1 }
        return strips.map { strip in
            KernelWork(kind: .convolutionForward,
                       input: [input[0], input[1], span(strip.rows.count, 0), span(strip.cols.count, 1)],
                       output: [output[0], output[1], strip.rows.count, strip.cols.count],
                       window: c.kernel + c.stride, groups: c.groups, block: r.outputLayout.blockSize)
        }
    }
}

extension ConvolutionLayer: OverlappingBackward {
    func backwardInput<T: RuntimeScalar>(_ io: LayerIO<T>) { backwardData(io, rows: shard.inputRows, cols: shard.inputCols) }
    func backwardParameters<T: RuntimeScalar>(_ io: LayerIO<T>) { backwardWeights(io) }
}

extension ConvolutionLayer: OverlappingLayer {
    /// With oneDNN's kernels: the whole block first (a direct call on the buffers; its
    /// outputs next to the halo read halo cells not yet received and are recomputed),
    /// then, once the halo is in, the boundary strips: the outputs whose windows leave
    /// `own`, this rank's block of the input. Interior outputs come from the same
    /// primitive as without overlap, and the strips' primitives sum each output in the
    /// same order when they run the block's direct kernel (`stripsKeepTheBits`,
    /// DNNLConvolutionRegionTests), so the bits are the same.
    func overlapStrips(own: Rect) -> [(rows: Range<Int>, cols: Range<Int>)]? {
        guard onednn, shard.outputPlane > 0, own.range(0) == inputImages,
              own.range(1).clamped(to: inputChannels) == inputChannels else { return nil }
        let g = geometry
        let rows = interior(shard.outputRows, own: own.range(2), kernel: g.kernelHeight, stride: g.strideH,
                            padding: g.paddingH, dilation: g.dilationH, length: g.height)
        let cols = interior(shard.outputCols, own: own.range(3), kernel: g.kernelWidth, stride: g.strideW,
                            padding: g.paddingW, dilation: g.dilationW, length: g.width)
        let r = shard.outputRows, c = shard.outputCols
        guard !rows.isEmpty, !cols.isEmpty else { return nil }
        let strips = [
            (r.lowerBound..<rows.lowerBound, c), (rows.upperBound..<r.upperBound, c),
            (rows, c.lowerBound..<cols.lowerBound), (rows, cols.upperBound..<c.upperBound),
        ].filter { !$0.0.isEmpty && !$0.1.isEmpty }
        return strips.map { (rows: $0.0, cols: $0.1) }
    }

    func stripsKeepTheBits(_ strips: [(rows: Range<Int>, cols: Range<Int>)], kernels: AnyObject) -> Bool {
        (kernels as? DNNLConvolution)?.forwardRegionsGiveTheWholeCallsBits(strips) ?? false
    }

    func forwardBeforeHalo<T: RuntimeScalar>(_ io: LayerIO<T>) {
        forward(io, rows: shard.outputRows, cols: shard.outputCols)
    }

    func forwardStrip<T: RuntimeScalar>(_ io: LayerIO<T>, rows: Range<Int>, cols: Range<Int>) {
        forward(io, rows: rows, cols: cols)
    }

    /// Outputs of `block` whose windows, clipped to the tensor (the rest is zero
    /// padding), lie inside `own`: `first = o*s - p`, `last = first + d(k-1)`.
    func interior(_ block: Range<Int>, own: Range<Int>, kernel k: Int, stride s: Int, padding p: Int,
                  dilation d: Int, length: Int) -> Range<Int> {
        let inside = block.filter { o in
            let first = Swift.max(o * s - p, 0), last = Swift.min(o * s - p + d * (k - 1), length - 1)
            return first >= own.lowerBound && last < own.upperBound
        }
        guard let lo = inside.first, let hi = inside.last else { return block.lowerBound..<block.lowerBound }
        return lo..<(hi + 1)
    }
}

// MARK: - Calibration

/// The calibration's trial of a convolution's passes: this layer's kernels on one shard.
extension CalibrationTrial {
    func convolution(_ work: KernelWork, input: ActivationLayout) throws {
        let (n, c, h, w) = try nchw(work, work.input, "input")
        let (on, f, oh, ow) = try nchw(work, work.output, "output")
        let (kh, kw, sh, sw) = try window(work)
        try check(work, on == n, "input and output batches differ")
        let ph = Self.padding(input: h, output: oh, kernel: kh, stride: sh)
        let pw = Self.padding(input: w, output: ow, kernel: kw, stride: sw)
        let g = try Conv2DGeometry(inChannels: c, outChannels: f, height: h, width: w, kernelHeight: kh,
                                   kernelWidth: kw, strideH: sh, strideW: sw, paddingH: ph, paddingW: pw,
                                   groups: work.groups)
        let shard = SpatialShard(inputRows: 0..<h, inputCols: 0..<w, outputRows: 0..<oh, outputCols: 0..<ow)
        let weight = floats(g.weightCount(outChannels: 0..<f)), dweight = floats(weight.count)
        let bias = floats(f), dbias = floats(f)
        if work.groups != 1 {
            // Grouped convolutions run on the reference im2col + GEMM kernels, in NCHW.
            let x = floats(n * c * h * w), y = floats(n * f * oh * ow)
            let ws = floats(conv2d_workspace_count(g, shard))
            switch work.kind {
            case .convolutionForward:
                run = { conv2d_forward(g, shard, batch: n, outChannels: 0..<f, x: UnsafeBufferPointer(x),
                                       weight: UnsafeBufferPointer(weight), bias: UnsafeBufferPointer(bias), y: y,
                                       workspace: ws) }
            case .convolutionBackwardData:
                let dx = floats(x.count)
                run = { conv2d_backward_data(g, shard, batch: n, outChannels: 0..<f, dy: UnsafeBufferPointer(y),
                                             weight: UnsafeBufferPointer(weight), dx: dx, workspace: ws) }
            default:
                run = { conv2d_backward_filter(g, shard, batch: n, outChannels: 0..<f, x: UnsafeBufferPointer(x),
                                               dy: UnsafeBufferPointer(y), dweight: dweight, workspace: ws) }
            }
            return
        }
        let output = Self.layout(block: work.block)
        let k = try DNNLConvolution(g, shard, batch: n, input: input, output: output, bias: true)
        retained.append(k)
        let x = floats(input.count(n: n, c: c, h: h, w: w)), y = floats(output.count(n: n, c: f, h: oh, w: ow))
        switch work.kind {
        case .convolutionForward:
            run = { k.forward(x: UnsafeBufferPointer(x), weight: UnsafeBufferPointer(weight),
                              bias: UnsafeBufferPointer(bias), y: y) }
        case .convolutionBackwardData:
            let dx = floats(x.count)
            run = { k.backwardData(dy: UnsafeBufferPointer(y), weight: UnsafeBufferPointer(weight), dx: dx) }
        default:
            run = { k.backwardWeights(x: UnsafeBufferPointer(x), dy: UnsafeBufferPointer(y), dweight: dweight,
                                      dbias: dbias) }
        }
    }
}
