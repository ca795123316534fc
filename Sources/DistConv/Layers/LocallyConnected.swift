import Geometry
import Kernels

/// The reference dump's locally connected layer: weights untied per tile,
/// `W[Cout, SY, SX, Cin, KH, KW, TY, TX]`, sharded with the output (a rank reads only
/// its tiles' weights, so their gradients need no allreduce). The kernels read a packed
/// copy `[tiles, R, K]` (state), repacked after every update; the packed gradient
/// (state too) is unpacked into the canonical gradient after backward.
struct LocallyConnectedLayer: ShardLayer {
    let geometry: LocallyConnectedGeometry
    let shard: TileShard
    let batch: Int
    let weightCount: Int
    let forwardWorkspace: Int
    var backwardWorkspace: Int { forwardWorkspace }
    /// Packed weights, then the packed weight gradient.
    var stateCount: Int { 2 * weightCount }
    var backwardReadsInput: Bool { true }

    init(op: Op, spec: LocallyConnectedSpec, regions: ShardRegions) throws(KernelShapeError) {
        let w = op.parameters.isEmpty ? [] : regions.parameters[0].size
        geometry = try LocallyConnectedGeometry(
            layer: op.name, inChannels: op.inputShape[1], outChannels: regions.output.size[1],
            height: op.inputShape[2], width: op.inputShape[3], kernelHeight: spec.kernel[0],
            kernelWidth: spec.kernel[1], tileStride: spec.tileStride, tileHeight: spec.tileSize[0],
            tileWidth: spec.tileSize[1], tilesY: op.outputShape[2] / spec.tileSize[0],
            tilesX: op.outputShape[3] / spec.tileSize[1])
        let tiles = regions.parameters[0]
        shard = TileShard(tileRows: tiles.range(6), tileCols: tiles.range(7), inputRows: regions.input.range(2),
                          inputCols: regions.input.range(3))
        batch = regions.output.size[0]
        weightCount = w.reduce(1, *)
        forwardWorkspace = locally_connected_workspace_count(geometry, batch: batch)
    }

    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>) {
        uniform_init(shape: shape, rect: rect, bound: defaultInitBound(fanIn: geometry.patchSize), seed: seed,
                     values: values)
    }

    func packed<T>(_ state: UnsafeMutableBufferPointer<T>, _ k: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(rebasing: state[(k * weightCount)..<((k + 1) * weightCount)])
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        let w = packed(io.state, 0)
        locally_connected_pack_weights(geometry, tiles: shard.tiles, weight: io.parameter(0), packed: w)
        locally_connected_forward(geometry, shard, batch: batch, x: io.cx, packedWeight: UnsafeBufferPointer(w),
                                  y: io.y, workspace: io.workspace)
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        let w = UnsafeBufferPointer(packed(io.state, 0)), dw = packed(io.state, 1)
        dw.update(repeating: 0)
        locally_connected_backward_filter(geometry, shard, batch: batch, x: io.cx, dy: io.cdy, dpackedWeight: dw,
                                          workspace: io.workspace)
        locally_connected_unpack_add(geometry, tiles: shard.tiles, packed: UnsafeBufferPointer(dw),
                                     into: io.gradients[0])
        if let dx = io.dx {
            locally_connected_backward_data(geometry, shard, batch: batch, dy: io.cdy, packedWeight: w, dx: dx,
                                            workspace: io.workspace)
        }
    }
}

extension LocallyConnectedLayer: LayerPartitioning {
    /// The block's tiles, their receptive field (no padding), and their untied weights.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        guard case .locallyConnected(let s) = op.kind else { preconditionFailure("\(op.name) is not locally connected") }
        let ty = (block.range(2).lowerBound / s.tileSize[0])..<(block.range(2).upperBound / s.tileSize[0])
        let tx = (block.range(3).lowerBound / s.tileSize[1])..<(block.range(3).upperBound / s.tileSize[1])
        let h = receptiveField(of: ty, kernel: s.kernel[0], stride: s.tileStride, padding: 0, inputLength: op.inputShape[2])
        let w = receptiveField(of: tx, kernel: s.kernel[1], stride: s.tileStride, padding: 0, inputLength: op.inputShape[3])
        let filters = Rect(ranges: [block.range(1), 0..<s.tileSize[0], 0..<s.tileSize[1], 0..<op.inputShape[1],
                                    0..<s.kernel[0], 0..<s.kernel[1], ty, tx])
        return ForwardRegions(input: Rect(ranges: [block.range(0), 0..<op.inputShape[1], h, w]), filters: filters,
                              result: block, parameters: [(s.weights, filters)], outputs: [block])
    }

    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        op.reads(forward, [op.input] + op.parameters)
    }

    /// One sgemm-based call per pass (the tile size is not part of the key).
    static func work(_ kind: KernelWork.Kind, _ op: Op, _ r: ShardRegions) -> KernelWork {
        guard case .locallyConnected(let l) = op.kind else { preconditionFailure("\(op.name) is not locally connected") }
        return KernelWork(kind: kind, input: r.input.size, output: r.output.size,
                          window: l.kernel + [l.tileStride, l.tileStride])
    }

    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] { [work(.locallyConnectedForward, op, r)] }
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        dx ? [work(.locallyConnectedBackwardData, op, r)] : []
    }
    static func backwardWeightsWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] {
        [work(.locallyConnectedBackwardWeights, op, r)]
    }
}

// MARK: - Calibration

/// The calibration's trial of a locally connected layer's passes.
extension CalibrationTrial {
    func locallyConnected(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.input, "input")
        let (_, f, oh, ow) = try nchw(work, work.output, "output")
        let (kh, kw, stride, _) = try window(work)
        var ty = 4, tx = 4
        if work.variant.hasPrefix("tile ") {
            let parts = work.variant.dropFirst(5).split(separator: "x").compactMap { Int($0) }
            try check(work, parts.count == 2 && parts.allSatisfy { $0 >= 1 }, "variant '\(work.variant)' is not 'tile SYxSX'")
            (ty, tx) = (parts[0], parts[1])
        }
        try check(work, oh % ty == 0 && ow % tx == 0, "output \(oh)x\(ow) is not whole \(ty)x\(tx) tiles")
        let g = try LocallyConnectedGeometry(inChannels: c, outChannels: f, height: h, width: w, kernelHeight: kh,
                                             kernelWidth: kw, tileStride: stride, tileHeight: ty, tileWidth: tx,
                                             tilesY: oh / ty, tilesX: ow / tx)
        let shard = TileShard.whole(g)
        let x = floats(n * c * h * w), y = floats(n * f * oh * ow)
        let packed = floats(g.weightCount(tiles: shard.tiles)), ws = floats(locally_connected_workspace_count(g, batch: n))
        switch work.kind {
        case .locallyConnectedForward:
            run = { locally_connected_forward(g, shard, batch: n, x: UnsafeBufferPointer(x),
                                              packedWeight: UnsafeBufferPointer(packed), y: y, workspace: ws) }
        case .locallyConnectedBackwardData:
            let dx = floats(x.count)
            run = { locally_connected_backward_data(g, shard, batch: n, dy: UnsafeBufferPointer(y),
                                                    packedWeight: UnsafeBufferPointer(packed), dx: dx, workspace: ws) }
        default:
            let dpacked = floats(packed.count)
            run = { locally_connected_backward_filter(g, shard, batch: n, x: UnsafeBufferPointer(x),
                                                      dy: UnsafeBufferPointer(y), dpackedWeight: dpacked, workspace: ws) }
        }
    }
}
