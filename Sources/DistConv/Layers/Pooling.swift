import Geometry
import Kernels

/// Max and average pooling on a shard with its halo. Max pooling keeps the argmax of
/// every output (Int32 indices into the local input) for backward.
struct PoolingLayer: ShardLayer {
    let geometry: Pool2DGeometry
    let shard: SpatialShard
    let batch: Int
    let mode: PoolSpec.Mode
    let outputCount: Int
    var indexCount: Int { mode == .max ? outputCount : 0 }

    init(op: Op, spec: PoolSpec, regions: ShardRegions) throws(KernelShapeError) {
        geometry = try Pool2DGeometry(
            layer: op.name, channels: regions.output.size[1], height: op.inputShape[2], width: op.inputShape[3],
            kernelHeight: spec.kernel[0], kernelWidth: spec.kernel[1], strideH: spec.stride[0],
            strideW: spec.stride[1], paddingH: spec.padding[0], paddingW: spec.padding[1], coverAll: spec.coverAll)
        shard = SpatialShard(input: regions.input, output: regions.output)
        batch = regions.output.size[0]
        mode = spec.mode
        outputCount = regions.output.volume
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        switch mode {
        case .max: maxpool2d_forward(geometry, shard, batch: batch, x: io.cx, y: io.y, argmax: io.indices)
        case .average: avgpool2d_forward(geometry, shard, batch: batch, x: io.cx, y: io.y)
        }
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        guard let dx = io.dx else { return }
        switch mode {
        case .max:
            maxpool2d_backward(geometry, shard, batch: batch, dy: io.cdy, argmax: UnsafeBufferPointer(io.indices), dx: dx)
        case .average: avgpool2d_backward(geometry, shard, batch: batch, dy: io.cdy, dx: dx)
        }
    }
}

extension PoolingLayer: LayerPartitioning {
    /// The block's windows, clipped to the input.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        guard case .pool(let s) = op.kind else { preconditionFailure("\(op.name) is not pooling") }
        let (h, w) = op.window(block, kernel: s.kernel, stride: s.stride, padding: s.padding)
        return ForwardRegions(input: Rect(ranges: [block.range(0), block.range(1), h, w]), result: block, outputs: [block])
    }

    /// Max pooling's backward reads its input and output (where the maxima were).
    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        guard case .pool(let s) = op.kind, s.mode == .max else { return [] }
        return op.reads(forward, [op.input]) + [.init(tensor: op.outputs[0], rects: forward.distResult)]
    }
}
