import Geometry
import Kernels

/// `conv2d` on a shard: im2col + sgemm (Kernels/Convolution.swift). Weights
/// `[Cout, Cin/groups, KH, KW]` and bias `[Cout]` as PyTorch; this rank reads the filters
/// of its output-channel block and computes its output block from its input block plus
/// halo. Weight gradients are partial sums over the rank's block (allreduced).
struct ConvolutionLayer: ShardLayer {
    let geometry: Conv2DGeometry
    let shard: SpatialShard
    let batch: Int
    let channels: Range<Int>
    let hasBias: Bool
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
        forwardWorkspace = conv2d_workspace_count(geometry, shard)
    }

    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>) {
        // PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and bias.
        uniform_init(shape: shape, rect: rect, bound: defaultInitBound(fanIn: geometry.patchSize), seed: seed,
                     values: values)
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        conv2d_forward(geometry, shard, batch: batch, outChannels: channels, x: io.cx, weight: io.parameter(0),
                       bias: hasBias ? io.parameter(1) : nil, y: io.y, workspace: io.workspace)
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        conv2d_backward_filter(geometry, shard, batch: batch, outChannels: channels, x: io.cx, dy: io.cdy,
                               dweight: io.gradients[0], workspace: io.workspace)
        if hasBias {
            conv2d_backward_bias(batch: batch, channels: channels.count, plane: shard.outputPlane, dy: io.cdy,
                                 dbias: io.gradients[1])
        }
        if let dx = io.dx {
            conv2d_backward_data(geometry, shard, batch: batch, outChannels: channels, dy: io.cdy,
                                 weight: io.parameter(0), dx: dx, workspace: io.workspace)
        }
    }
}

extension ConvolutionLayer: LayerPartitioning {
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
}
