import Geometry
import Kernels

/// Max and average pooling on a shard with its halo. With oneDNN (Float, NCHW or blocked,
/// `DNNLPooling`) max pooling keeps oneDNN's workspace of winners from forward to
/// backward; the reference kernels (NCHW) keep the argmax of every output (Int32 indices
/// into the local input). Both live in the layer's index storage. Max pooling in nChw16c
/// runs on Kernels' own SIMD loops (`maxpool2d_forward_blocked`, faster than oneDNN's
/// primitive at these shapes), which keep their argmax there too.
struct PoolingLayer: ShardLayer {
    let geometry: Pool2DGeometry
    let shard: SpatialShard
    let batch: Int
    let mode: PoolSpec.Mode
    let onednn: Bool
    let layout: ActivationLayout
    /// Max pooling of nChw16c Float activations on the SIMD loops instead of oneDNN.
    let blockedMax: Bool
    /// Int32 slots: one per stored output element (oneDNN's workspace is at most 4 bytes
    /// per output; `makeKernels` checks).
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
        // cover_all windows wholly in padding are the reference kernels' alone.
        onednn = regions.onednn && !spec.coverAll
        layout = regions.inputLayout
        blockedMax = onednn && mode == .max && maxpool2d_blocked_supports(geometry, layout: layout)
        precondition(onednn || layout == .nchw, "\(op.name): the reference pooling runs in NCHW, planned \(layout)")
        outputCount = layout.storedCount(regions.output)
    }

    func makeKernels() throws(KernelShapeError) -> AnyObject? {
        guard onednn, !blockedMax, batch > 0, shard.outputPlane > 0 else { return nil }
        let k = try DNNLPooling(geometry, shard, batch: batch, kind: mode == .max ? .max : .average, layout: layout)
        precondition(k.workspaceBytes <= 4 * indexCount,
                     "\(geometry.layer): oneDNN's pooling workspace \(k.workspaceBytes) bytes, \(4 * indexCount) planned")
        return k
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        if blockedMax {
            if batch > 0 && shard.outputPlane > 0 {
                maxpool2d_forward_blocked(geometry, shard, batch: batch, layout: layout, x: floats(io.cx),
                                          y: floats(io.y), argmax: io.indices)
            }
            return 0
        }
        if let k = io.kernels as? DNNLPooling {
            k.forward(x: floats(io.cx), y: floats(io.y), workspace: workspace(k, io))
            return 0
        }
        if onednn { return 0 }  // an empty block
        switch mode {
        case .max: maxpool2d_forward(geometry, shard, batch: batch, x: io.cx, y: io.y, argmax: io.indices)
        case .average: avgpool2d_forward(geometry, shard, batch: batch, x: io.cx, y: io.y)
        }
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        guard let dx = io.dx else { return }
        if blockedMax {
            guard batch > 0 && shard.outputPlane > 0 else { return dx.update(repeating: 0) }
            return maxpool2d_backward_blocked(geometry, shard, batch: batch, layout: layout, dy: floats(io.cdy),
                                              argmax: UnsafeBufferPointer(io.indices), dx: floats(dx))
        }
        if let k = io.kernels as? DNNLPooling {
            k.backward(dy: floats(io.cdy), workspace: workspace(k, io).map { UnsafeRawBufferPointer($0) }, dx: floats(dx))
            return
        }
        if onednn { return dx.update(repeating: 0) }
        switch mode {
        case .max:
            maxpool2d_backward(geometry, shard, batch: batch, dy: io.cdy, argmax: UnsafeBufferPointer(io.indices), dx: dx)
        case .average: avgpool2d_backward(geometry, shard, batch: batch, dy: io.cdy, dx: dx)
        }
    }

    func workspace<T>(_ k: DNNLPooling, _ io: LayerIO<T>) -> UnsafeMutableRawBufferPointer? {
        k.workspaceBytes == 0 ? nil : UnsafeMutableRawBufferPointer(start: io.indices.baseAddress, count: k.workspaceBytes)
    }
}

extension PoolingLayer: LayerPartitioning {
    /// Either layout, the output in the input's.
    static func layouts(of op: Op) -> LayerLayouts {
        guard case .pool(let s) = op.kind, !s.coverAll else { return .nchw }
        return .preserving
    }

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

    static func work(_ kind: KernelWork.Kind, _ op: Op, _ r: ShardRegions) -> KernelWork {
        guard case .pool(let p) = op.kind else { preconditionFailure("\(op.name) is not a pooling") }
        return KernelWork(kind: kind, input: r.input.size, output: r.output.size, window: p.kernel + p.stride,
                          block: r.inputLayout.blockSize, variant: p.mode == .max ? "max" : "average")
    }

    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] { [work(.poolingForward, op, r)] }
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        dx ? [work(.poolingBackward, op, r)] : []
    }
}

// MARK: - Calibration

/// The calibration's trial of a pooling's passes: this layer's kernels on one shard.
extension CalibrationTrial {
    func pooling(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.input, "input")
        let (_, _, oh, ow) = try nchw(work, work.output, "output")
        let (kh, kw, sh, sw) = try window(work)
        let g = try Pool2DGeometry(channels: c, height: h, width: w, kernelHeight: kh, kernelWidth: kw, strideH: sh,
                                   strideW: sw, paddingH: min(Self.padding(input: h, output: oh, kernel: kh, stride: sh), kh / 2),
                                   paddingW: min(Self.padding(input: w, output: ow, kernel: kw, stride: sw), kw / 2))
        let shard = SpatialShard(inputRows: 0..<h, inputCols: 0..<w, outputRows: 0..<min(oh, g.outputHeight),
                                 outputCols: 0..<min(ow, g.outputWidth))
        let layout = Self.layout(block: work.block)
        let x = floats(layout.count(n: n, c: c, h: h, w: w))
        let y = floats(layout.count(n: n, c: c, h: shard.outputRows.count, w: shard.outputCols.count))
        let max = work.variant != "average"
        if max && maxpool2d_blocked_supports(g, layout: layout) {
            let argmax = indices(y.count, below: 1)
            if work.kind == .poolingForward {
                run = { maxpool2d_forward_blocked(g, shard, batch: n, layout: layout, x: UnsafeBufferPointer(x), y: y,
                                                 argmax: argmax) }
            } else {
                maxpool2d_forward_blocked(g, shard, batch: n, layout: layout, x: UnsafeBufferPointer(x), y: y,
                                          argmax: argmax)
                let dx = floats(x.count)
                run = { maxpool2d_backward_blocked(g, shard, batch: n, layout: layout, dy: UnsafeBufferPointer(y),
                                                     argmax: UnsafeBufferPointer(argmax), dx: dx) }
            }
            return
        }
        let k = try DNNLPooling(g, shard, batch: n, kind: max ? .max : .average, layout: layout)
        retained.append(k)
        let ws = UnsafeMutableRawBufferPointer(indices((k.workspaceBytes + 3) / 4, below: 1))
        let workspace = k.workspaceBytes == 0 ? nil : ws
        k.forward(x: UnsafeBufferPointer(x), y: y, workspace: workspace)
        if work.kind == .poolingForward {
            run = { k.forward(x: UnsafeBufferPointer(x), y: y, workspace: workspace) }
        } else {
            let dx = floats(x.count)
            run = { k.backward(dy: UnsafeBufferPointer(y), workspace: workspace.map { UnsafeRawBufferPointer($0) }, dx: dx) }
        }
    }
}
