import CDNNL
import Geometry

// 2-D convolution of one shard on oneDNN, in plain or blocked layouts.
//
// N = batch (local), C = input channels, F = output channels of the block, G = groups,
// x  [N, C, inputRows, inputCols]    in `input` layout  (the shard's read region)
// w  [F, C/G, KH, KW]                PyTorch's layout  (the block's filters)
// b  [F]
// y  [N, F, outputRows, outputCols]  in `output` layout (the shard's write region)
// y[n, f, oy, ox] = b[f] + sum_{c in group(f), kh, kw} w[f, c, kh, kw] * x[n, c, oy*sh - ph + kh*dh, ox*sw - pw + kw*dw]
//
// Padding is derived from the shard, per side: zeros only where a window leaves the
// global tensor; where it leaves the local input into a neighbour's block, the halo is
// in x. A local input larger than the outputs read is cropped to what they read.
//
// oneDNN's fast (jit) kernels take only dense memory in their own format: a cropped or
// differently laid-out tensor, and any sub-rectangle of a block, go through a scratch
// buffer in the primitive's format and a reorder. A whole-block call on a shard whose
// read region is exactly what its outputs read, in the preferred blocked layout, runs
// the primitive on the caller's buffers directly.

/// A rectangle of global rows and columns.
struct ConvRegion: Hashable {
    var rows: Range<Int>
    var cols: Range<Int>
}

/// What a set of outputs reads along one axis: input indices (global, clipped to the
/// tensor) and the zero padding before and after them.
struct WindowSpan: Hashable {
    var input: Range<Int>
    var padLow: Int
    var padHigh: Int

    /// Outputs `o` with kernel `k`, stride `s`, padding `p`, dilation `d` over an input of
    /// `length`: taps run from `o.lo*s - p` to `(o.hi-1)*s - p + d(k-1)`; the input is the
    /// receptive field (indices some tap reads, as the partitioner gives them), the rest
    /// of the span is padding to oneDNN (zeros, or in-tensor indices no tap reads). Nil
    /// when the outputs read no input at all.
    init?(outputs o: Range<Int>, kernel k: Int, stride s: Int, padding p: Int, dilation d: Int, length: Int) {
        let field = receptiveField(of: o, kernel: k, stride: s, padding: p, dilation: d, inputLength: length)
        guard !o.isEmpty, !field.isEmpty else { return nil }
        let first = o.lowerBound * s - p, last = (o.upperBound - 1) * s - p + d * (k - 1)
        input = field
        padLow = field.lowerBound - first
        padHigh = last + 1 - field.upperBound
    }
}

/// The output indices of `block` whose windows meet input indices `inputs` (global).
func outputsReading(_ inputs: Range<Int>, block: Range<Int>, kernel k: Int, stride s: Int, padding p: Int, dilation d: Int) -> Range<Int> {
    guard !inputs.isEmpty else { return block.lowerBound..<block.lowerBound }
    // o*s - p + d(k-1) >= inputs.lo  and  o*s - p <= inputs.hi - 1
    let lo = Swift.max(block.lowerBound, ceilDivide(inputs.lowerBound + p - d * (k - 1), s))
    let hi = Swift.min(block.upperBound, floorDivide(inputs.upperBound - 1 + p, s) + 1)
    return lo < hi ? lo..<hi : lo..<lo
}


/// A convolution of one shard shape on oneDNN: primitives for the whole block built at
/// construction, those of sub-rectangles on their first call; all reused afterwards.
public final class DNNLConvolution {
    public let geometry: Conv2DGeometry
    public let shard: SpatialShard
    public let batch: Int
    public let outChannels: Range<Int>
    public let input: ActivationLayout
    public let output: ActivationLayout
    public let hasBias: Bool

    private var forwardPlans: [ConvRegion: ConvForwardPlan] = [:]
    private var backwardDataPlans: [ConvRegion: ConvBackwardDataPlan] = [:]
    private var weightsPlan: ConvBackwardWeightsPlan?

    /// Throws when the block cannot run on oneDNN: a grouped convolution whose block is
    /// not all output channels (the runtime keeps the reference kernel then), outputs
    /// that read only padding, or a shape oneDNN refuses.
    public init(
        _ g: Conv2DGeometry, _ shard: SpatialShard, batch: Int, outChannels: Range<Int>? = nil,
        input: ActivationLayout, output: ActivationLayout, bias: Bool = true
    ) throws(KernelShapeError) {
        let block = outChannels ?? 0..<g.outChannels
        precondition(block.lowerBound >= 0 && block.upperBound <= g.outChannels && !block.isEmpty,
                     "\(g.layer): output channel block \(block) outside 0..<\(g.outChannels)")
        precondition(batch >= 1, "\(g.layer): batch \(batch) must be >= 1")
        precondition(shard.outputRows.lowerBound >= 0 && shard.outputRows.upperBound <= g.outputHeight
                     && shard.outputCols.lowerBound >= 0 && shard.outputCols.upperBound <= g.outputWidth
                     && shard.outputPlane > 0,
                     "\(g.layer): output \(shard.outputRows) x \(shard.outputCols) outside \(g.outputHeight) x \(g.outputWidth) or empty")
        checkCovers(shard.inputRows, outputs: shard.outputRows, kernel: g.kernelHeight, stride: g.strideH,
                    padding: g.paddingH, dilation: g.dilationH, length: g.height, layer: g.layer, axis: "rows")
        checkCovers(shard.inputCols, outputs: shard.outputCols, kernel: g.kernelWidth, stride: g.strideW,
                    padding: g.paddingW, dilation: g.dilationW, length: g.width, layer: g.layer, axis: "columns")
        guard g.groups == 1 || block == 0..<g.outChannels else {
            throw .invalidParameter(layer: g.layer, name: "output channel block size", value: block.count,
                                    requirement: "all \(g.outChannels) output channels for a grouped convolution on oneDNN")
        }
        geometry = g
        self.shard = shard
        self.batch = batch
        self.outChannels = block
        self.input = input
        self.output = output
        hasBias = bias
        let whole = ConvRegion(rows: shard.outputRows, cols: shard.outputCols)
        guard let problem = problem(outputs: whole) else {
            throw .invalidParameter(layer: g.layer, name: "outputs reading input rows", value: 0,
                                    requirement: "at least one: this shard's outputs read only padding")
        }
        do {
            forwardPlans[whole] = try ConvForwardPlan(self, problem)
            backwardDataPlans[ConvRegion(rows: shard.inputRows, cols: shard.inputCols)] =
                try ConvBackwardDataPlan(self, problem, dx: ConvRegion(rows: shard.inputRows, cols: shard.inputCols))
            weightsPlan = try ConvBackwardWeightsPlan(self, problem)
        } catch {
            throw .invalidParameter(layer: g.layer, name: "oneDNN convolution status", value: Int(error.status.rawValue),
                                    requirement: "success for this shape (\(error.what))")
        }
    }

    /// Elements of x (and dx), y (and dy) and w in their layouts.
    public var inputCount: Int {
        input.count(n: batch, c: geometry.inChannels, h: shard.inputRows.count, w: shard.inputCols.count)
    }
    public var outputCount: Int {
        output.count(n: batch, c: outChannels.count, h: shard.outputRows.count, w: shard.outputCols.count)
    }
    public var weightCount: Int { geometry.weightCount(outChannels: outChannels) }

    /// The oneDNN implementation of each pass on the whole block (e.g. "jit:avx512_core").
    public var implementations: (forward: String, backwardData: String, backwardWeights: String) {
        (forwardPlans[ConvRegion(rows: shard.outputRows, cols: shard.outputCols)]!.conv.implementation,
         backwardDataPlans[ConvRegion(rows: shard.inputRows, cols: shard.inputCols)]!.conv!.implementation,
         weightsPlan!.conv.implementation)
    }

    /// The oneDNN implementation of the forward over a sub-rectangle (building it). A
    /// sub-rectangle runs the whole block's implementation when oneDNN has it for that
    /// shape; some narrow pieces (one output wide with wide padding, say) are refused by
    /// the jit kernels and run on another, which rounds differently.
    public func forwardImplementation(outputRows: Range<Int>, outputCols: Range<Int>) -> String {
        forwardPlan(ConvRegion(rows: outputRows, cols: outputCols)).conv.implementation
    }

    /// The oneDNN implementation of the backward-data over a sub-rectangle of dx ("none"
    /// when no output reads it).
    public func backwardDataImplementation(inputRows: Range<Int>, inputCols: Range<Int>) -> String {
        backwardDataPlan(ConvRegion(rows: inputRows, cols: inputCols)).conv?.implementation ?? "none"
    }

    /// Whether an implementation sums each output's products in an order set by the
    /// layer alone, not by the size of the problem: oneDNN's direct kernels ("jit:avx2",
    /// "jit:avx512_core", "ref") do; the GEMM-based ones ("x64:gemm:jit", "gemm:jit") block
    /// their GEMM by the problem's sizes, so a sub-rectangle sums in another order (seen on
    /// AVX2, where backward-data of small channel counts runs on GEMM).
    public static func ordersIndependentlyOfSize(_ implementation: String) -> Bool {
        !implementation.contains("gemm")
    }

    /// Whether the forward over each of `regions` (global output rows and columns inside
    /// the block) gives the whole-block call's bits: every region runs the whole block's
    /// implementation, and that implementation's order does not depend on the size. Builds
    /// the regions' primitives (they are cached for the calls that follow).
    public func forwardRegionsGiveTheWholeCallsBits(_ regions: [(rows: Range<Int>, cols: Range<Int>)]) -> Bool {
        let whole = implementations.forward
        return Self.ordersIndependentlyOfSize(whole)
            && regions.allSatisfy { forwardImplementation(outputRows: $0.rows, outputCols: $0.cols) == whole }
    }

    /// Whether the whole-block forward runs on the caller's x and y without a copy.
    public var forwardIsDirect: Bool {
        let p = forwardPlans[ConvRegion(rows: shard.outputRows, cols: shard.outputCols)]!
        return p.x.isDirect && p.y.isDirect
    }

    /// Bytes of the scratch buffers built so far (formats, crops, sub-rectangles).
    public var scratchBytes: Int {
        forwardPlans.values.reduce(0) { $0 + $1.scratchBytes } + backwardDataPlans.values.reduce(0) { $0 + $1.scratchBytes }
            + (weightsPlan?.scratchBytes ?? 0)
    }

    /// Forward: writes y over `outputRows x outputCols` (global, inside the block; the
    /// whole block by default) and leaves the rest of y alone. `bias` is required when
    /// built with a bias and must be nil otherwise.
    ///
    /// A sub-rectangle copies its input region and output through scratch buffers (the
    /// jit kernels take only dense memory), so an interior computed alone costs more than
    /// the whole block (bench/run-kernels prints both). The cheap way to overlap a halo
    /// exchange: run the whole block while the halo is in flight (outputs that read the
    /// halo come out wrong), then, once it has arrived, only the strips of outputs that
    /// read it; the result is the fresh whole call's bit for bit (tested).
    public func forward(
        x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?,
        y: UnsafeMutableBufferPointer<Float>, outputRows: Range<Int>? = nil, outputCols: Range<Int>? = nil
    ) {
        let region = ConvRegion(rows: outputRows ?? shard.outputRows, cols: outputCols ?? shard.outputCols)
        checkBuffers(input: x.count, weight: weight.count, output: y.count)
        precondition((bias != nil) == hasBias && (bias == nil || bias!.count == outChannels.count),
                     "\(geometry.layer): bias \(bias?.count ?? 0) given, built \(hasBias ? "with \(outChannels.count)" : "without")")
        precondition(region.rows.clamped(to: shard.outputRows) == region.rows && region.cols.clamped(to: shard.outputCols) == region.cols,
                     "\(geometry.layer): output rectangle \(region.rows) x \(region.cols) outside the block \(shard.outputRows) x \(shard.outputCols)")
        guard !region.rows.isEmpty && !region.cols.isEmpty else { return }
        let plan = forwardPlan(region)
        plan.run(x: x.baseAddress!, weight: weight.baseAddress!, bias: bias?.baseAddress, y: y.baseAddress!)
    }

    /// Backward-data: overwrites dx over `inputRows x inputCols` (global, inside the local
    /// input; all of it by default) with the sum over this block's output channels of
    /// every output's contribution; the rest of dx is left alone. The caller adds the halo
    /// parts into their owners.
    public func backwardData(
        dy: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, dx: UnsafeMutableBufferPointer<Float>,
        inputRows: Range<Int>? = nil, inputCols: Range<Int>? = nil
    ) {
        let region = ConvRegion(rows: inputRows ?? shard.inputRows, cols: inputCols ?? shard.inputCols)
        checkBuffers(input: dx.count, weight: weight.count, output: dy.count)
        precondition(region.rows.clamped(to: shard.inputRows) == region.rows && region.cols.clamped(to: shard.inputCols) == region.cols,
                     "\(geometry.layer): dx rectangle \(region.rows) x \(region.cols) outside the local input \(shard.inputRows) x \(shard.inputCols)")
        guard !region.rows.isEmpty && !region.cols.isEmpty else { return }
        let plan = backwardDataPlan(region)
        plan.run(dy: dy.baseAddress!, weight: weight.baseAddress!, dx: dx.baseAddress!)
    }

    /// Backward-weights: adds this shard's gradient into `dweight` [F, C/G, KH, KW] and,
    /// when built with a bias, the sum of dy over images and positions into `dbias` [F]
    /// (the caller sums shards, e.g. by allreduce).
    public func backwardWeights(
        x: UnsafeBufferPointer<Float>, dy: UnsafeBufferPointer<Float>,
        dweight: UnsafeMutableBufferPointer<Float>, dbias: UnsafeMutableBufferPointer<Float>?
    ) {
        checkBuffers(input: x.count, weight: dweight.count, output: dy.count)
        precondition((dbias != nil) == hasBias && (dbias == nil || dbias!.count == outChannels.count),
                     "\(geometry.layer): dbias \(dbias?.count ?? 0) given, built \(hasBias ? "with \(outChannels.count)" : "without")")
        weightsPlan!.run(x: x.baseAddress!, dy: dy.baseAddress!, dweight: dweight.baseAddress!, dbias: dbias?.baseAddress)
    }

    private func checkBuffers(input x: Int, weight w: Int, output y: Int) {
        precondition(x == inputCount, "\(geometry.layer): input holds \(x), expected \(inputCount) (\(batch) x \(geometry.inChannels) x \(shard.inputRows.count) x \(shard.inputCols.count) in \(input))")
        precondition(w == weightCount, "\(geometry.layer): weight holds \(w), expected \(weightCount)")
        precondition(y == outputCount, "\(geometry.layer): output holds \(y), expected \(outputCount) (\(batch) x \(outChannels.count) x \(shard.outputRows.count) x \(shard.outputCols.count) in \(output))")
    }

    private func forwardPlan(_ region: ConvRegion) -> ConvForwardPlan {
        if let p = forwardPlans[region] { return p }
        guard let problem = problem(outputs: region) else {
            preconditionFailure("\(geometry.layer): outputs \(region.rows) x \(region.cols) read only padding")
        }
        do {
            let p = try ConvForwardPlan(self, problem, prefer: implementations.forward)
            forwardPlans[region] = p
            return p
        } catch {
            preconditionFailure("\(geometry.layer): oneDNN refused the forward of \(region.rows) x \(region.cols): \(error.what) \(error.status.rawValue)")
        }
    }

    private func backwardDataPlan(_ region: ConvRegion) -> ConvBackwardDataPlan {
        if let p = backwardDataPlans[region] { return p }
        let g = geometry
        let outputs = ConvRegion(
            rows: outputsReading(region.rows, block: shard.outputRows, kernel: g.kernelHeight, stride: g.strideH,
                                 padding: g.paddingH, dilation: g.dilationH),
            cols: outputsReading(region.cols, block: shard.outputCols, kernel: g.kernelWidth, stride: g.strideW,
                                 padding: g.paddingW, dilation: g.dilationW))
        do {
            let p = try ConvBackwardDataPlan(self, problem(outputs: outputs), dx: region, prefer: implementations.backwardData)
            backwardDataPlans[region] = p
            return p
        } catch {
            preconditionFailure("\(geometry.layer): oneDNN refused the backward-data of \(region.rows) x \(region.cols): \(error.what) \(error.status.rawValue)")
        }
    }

    /// The convolution over `outputs`: what it reads and its padding; nil when it reads
    /// nothing (or has no outputs).
    func problem(outputs: ConvRegion) -> ConvProblem? {
        let g = geometry
        guard let rows = WindowSpan(outputs: outputs.rows, kernel: g.kernelHeight, stride: g.strideH,
                                    padding: g.paddingH, dilation: g.dilationH, length: g.height),
              let cols = WindowSpan(outputs: outputs.cols, kernel: g.kernelWidth, stride: g.strideW,
                                    padding: g.paddingW, dilation: g.dilationW, length: g.width)
        else { return nil }
        return ConvProblem(outputs: outputs, rows: rows, cols: cols)
    }
}

/// One convolution primitive's shape: its outputs and what they read.
struct ConvProblem {
    var outputs: ConvRegion
    var rows: WindowSpan
    var cols: WindowSpan
    var inputs: ConvRegion { ConvRegion(rows: rows.input, cols: cols.input) }
}

/// A oneDNN call that failed while building a plan.
struct DNNLBuildError: Error {
    var what: String
    var status: dnnl_status_t
}
