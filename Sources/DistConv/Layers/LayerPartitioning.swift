import Geometry

/// What the partitioner needs to know about an op kind, said in the layer's own file:
/// the regions an output block touches, and what backward reads.
protocol LayerPartitioning {
    /// The regions of `op` on the rank whose block of the op's partitioned tensor
    /// (`Op.partitionedShape`: the output, or the input of a linear layer, loss or
    /// evaluation) is `block`.
    static func regions(of op: Op, block: Rect) -> ForwardRegions
    /// The forward tensors `op`'s backward reads besides output gradients (what must
    /// stay alive until then), from its forward partition.
    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access]
    /// The storage layouts the op's oneDNN kernels take and give (the reference kernels
    /// take NCHW only).
    static func layouts(of op: Op) -> LayerLayouts
    /// The kernel calls of the op's forward on a rank's shards (`ShardRegions`, halo
    /// included), as the cost model prices them and `calibrate` times them.
    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork]
    /// The input gradient's calls; `dx` says whether the plan computes an input gradient
    /// (not for the first layer after the data).
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork]
    /// The parameter gradients' calls.
    static func backwardWeightsWorks(of op: Op, _ r: ShardRegions) -> [KernelWork]
}

/// Which activation layouts a layer's kernels work in (`ExecutionPlan` decides each
/// tensor's layout from these, once).
enum LayerLayouts: Sendable {
    /// NCHW in and out: a blocked input is reordered first.
    case nchw
    /// Either layout, the output in the input's (elementwise ops, pooling).
    case preserving
    /// Any input layout (oneDNN's convolution reads a plain source directly), the output
    /// in the preferred blocked layout.
    case blocking
}

extension LayerPartitioning {
    /// Elementwise: the op reads and writes its block.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        ForwardRegions(input: block, result: block, outputs: [block])
    }

    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] { [] }
    static func layouts(of op: Op) -> LayerLayouts { .nchw }
    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] { [] }
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] { [] }
    static func backwardWeightsWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] { [] }

    /// An element-wise op's pass over its block (activations, dropout, affine, flatten),
    /// named by the op's type.
    static func elementwiseWork(_ op: Op, _ r: ShardRegions, backward: Bool) -> KernelWork {
        KernelWork(kind: backward ? .elementwiseBackward : .elementwiseForward, input: r.input.size,
                   output: r.output.size, block: r.inputLayout.blockSize, variant: op.kind.typeName)
    }
}

/// The element-wise layers' works: one pass forward, one backward when the plan computes
/// an input gradient.
protocol ElementwiseWorks: LayerPartitioning {}

extension ElementwiseWorks {
    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] { [elementwiseWork(op, r, backward: false)] }
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        dx ? [elementwiseWork(op, r, backward: true)] : []
    }
}

extension OpKind {
    /// The layer type that knows this kind's partitioning (the one map from kind to type).
    var layerType: any LayerPartitioning.Type {
        switch self {
        case .data: return DataLayer.self
        case .conv2d: return ConvolutionLayer.self
        case .locallyConnected: return LocallyConnectedLayer.self
        case .affine: return AffineLayer.self
        case .activation: return ActivationLayer.self
        case .pool: return PoolingLayer.self
        case .batchNorm: return BatchNormalizationLayer.self
        case .dropout: return DropoutLayer.self
        case .flatten: return FlattenLayer.self
        case .linear: return LinearLayer.self
        case .loss: return LossLayer.self
        case .evaluate: return EvaluateLayer.self
        }
    }
}

/// The data op: no kernel (the loader fills its consumers' inputs); it writes the whole
/// batch on every rank and the labels of every sample.
enum DataLayer: LayerPartitioning {
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        ForwardRegions(input: nil, result: block,
                       outputs: [Rect(shape: op.outputShape), Rect(shape: [op.outputShape[0], 1, 1, 1])])
    }
}
