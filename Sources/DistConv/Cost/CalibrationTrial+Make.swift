import Foundation
import Geometry
import Kernels

extension CalibrationTrial {
    /// The trial of `work`: the kernel the layers call for it (`Layers/*`), on buffers of
    /// its shard shapes in its storage layout.
    ///
    /// Works carry shard shapes, not the global tensor, so each trial treats the shard
    /// as a whole tensor: a window's padding is the least that gives the output shape
    /// from the input shape (0 for an interior shard with its halo, the model's at an
    /// edge), which makes the same kernel call on the same amount of data.
    ///
    /// Layouts (`StepCostModel`'s convention): `block` is the layout a convolution writes
    /// and the one the other kinds read and write (1: NCHW, 16: nChw16c); a convolution
    /// reads `input` (default: its `block`; the first one reads NCHW data).
    /// Variants: pooling `max`/`average`; element-wise `relu`/`tanh`/`sigmoid`/
    /// `dropout`/`affine`/`flatten` (a copy); loss `softmax_cross_entropy`/
    /// `multiclass_svm` (forward), the same with `_backward`, `evaluate`; reorder
    /// `to_nchw` (else NCHW to `block`); data `synthetic`/`idx`/`npy`; optimizer `sgd`/
    /// `momentum`/`adam`/`adamw`; locally connected `tile SYxSX` (default 4x4).
    static func make(_ work: KernelWork, input: ActivationLayout? = nil) throws(CalibrationError) -> CalibrationTrial {
        let t = CalibrationTrial()
        do {
            switch work.kind {
            case .convolutionForward, .convolutionBackwardData, .convolutionBackwardWeights:
                try t.convolution(work, input: input ?? layout(block: work.block))
            case .poolingForward, .poolingBackward: try t.pooling(work)
            case .batchNormForward, .batchNormBackward: try t.batchNorm(work)
            case .elementwiseForward, .elementwiseBackward: try t.elementwise(work)
            case .linearForward, .linearBackwardData, .linearBackwardWeights: try t.linear(work)
            case .locallyConnectedForward, .locallyConnectedBackwardData, .locallyConnectedBackwardWeights:
                try t.locallyConnected(work)
            case .loss: try t.loss(work)
            case .reorder: try t.reorder(work)
            case .dataLoad: try t.dataLoad(work)
            case .optimizerUpdate: try t.optimizerUpdate(work)
            }
        } catch let e as CalibrationError {
            throw e
        } catch {
            throw CalibrationError(work, "\(error)")
        }
        return t
    }

    static func layout(block: Int) -> ActivationLayout { block > 1 ? .blocked(block) : .nchw }

    /// The least padding (at most half the window, 0 when none is needed) for which a window
    /// of `kernel` at `stride` gives at least `output` positions over `input`.
    static func padding(input: Int, output: Int, kernel: Int, stride: Int) -> Int {
        let need = (output - 1) * stride + kernel - input
        return need <= 0 ? 0 : (need + 1) / 2
    }
}

// MARK: - The kinds

extension CalibrationTrial {
    private func check(_ work: KernelWork, _ ok: Bool, _ problem: @autoclosure () -> String) throws(CalibrationError) {
        if !ok { throw CalibrationError(work, problem()) }
    }

    private func nchw(_ work: KernelWork, _ shape: [Int], _ what: String) throws(CalibrationError) -> (Int, Int, Int, Int) {
        try check(work, shape.count == 4 && shape.allSatisfy { $0 >= 1 }, "\(what) \(shape) is not [N, C, H, W] of sizes >= 1")
        return (shape[0], shape[1], shape[2], shape[3])
    }

    private func window(_ work: KernelWork) throws(CalibrationError) -> (kh: Int, kw: Int, sh: Int, sw: Int) {
        try check(work, work.window.count == 4 && work.window.allSatisfy { $0 >= 1 },
                  "window \(work.window) is not [KH, KW, SH, SW] of sizes >= 1")
        return (work.window[0], work.window[1], work.window[2], work.window[3])
    }

    fileprivate func convolution(_ work: KernelWork, input: ActivationLayout) throws {
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

    fileprivate func pooling(_ work: KernelWork) throws {
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
        if max && maxpool2d_blocked16_supports(g, layout: layout) {
            let argmax = indices(y.count, below: 1)
            if work.kind == .poolingForward {
                run = { maxpool2d_forward_blocked16(g, shard, batch: n, x: UnsafeBufferPointer(x), y: y, argmax: argmax) }
            } else {
                maxpool2d_forward_blocked16(g, shard, batch: n, x: UnsafeBufferPointer(x), y: y, argmax: argmax)
                let dx = floats(x.count)
                run = { maxpool2d_backward_blocked16(g, shard, batch: n, dy: UnsafeBufferPointer(y),
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

    fileprivate func batchNorm(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.output, "output")
        let layout = Self.layout(block: work.block)
        let x = floats(layout.count(n: n, c: c, h: h, w: w)), y = floats(x.count)
        let gamma = floats(c), beta = floats(c), mean = floats(c), variance = floats(c)
        let savedMean = floats(c), savedInvStd = floats(c), dgamma = floats(c), dbeta = floats(c)
        for i in 0..<c { variance[i] = 1 }
        let moments = UnsafeMutableBufferPointer<BatchNormMoments>.allocate(capacity: c)
        let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: batchnorm_sums_count(channels: c))
        retained.append(Deallocation { moments.deallocate(); sums.deallocate() })
        let forward = {
            batchnorm_forward_train(layout: layout, batch: n, channels: c, plane: h * w, x: UnsafeBufferPointer(x),
                                    gamma: UnsafeBufferPointer(gamma), beta: UnsafeBufferPointer(beta), epsilon: 1e-5,
                                    momentum: 0.1, runningMean: mean, runningVar: variance, y: y, savedMean: savedMean,
                                    savedInvStd: savedInvStd, moments: moments, reducer: .local)
        }
        if work.kind == .batchNormForward { run = forward; return }
        forward()
        let dx = floats(x.count)
        run = {
            batchnorm_backward_train(layout: layout, batch: n, channels: c, plane: h * w, x: UnsafeBufferPointer(x),
                                     dy: UnsafeBufferPointer(y), gamma: UnsafeBufferPointer(gamma),
                                     savedMean: UnsafeBufferPointer(savedMean),
                                     savedInvStd: UnsafeBufferPointer(savedInvStd), dx: dx, dgamma: dgamma, dbeta: dbeta,
                                     sums: sums, reducer: .local)
        }
    }

    fileprivate func elementwise(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.output, "output")
        let layout = Self.layout(block: work.block)
        let count = layout.count(n: n, c: c, h: h, w: w)
        let x = floats(count), y = floats(count), dx = floats(count)
        let forward = work.kind == .elementwiseForward
        switch work.variant {
        case "dropout":
            let shape = [n, c, h, w], rect = Rect(shape: shape)
            try check(work, layout == .nchw, "dropout runs in NCHW")
            run = forward
                ? { dropout_forward(shape: shape, rect: rect, p: 0.5, seed: 1, step: 1, x: UnsafeBufferPointer(x), y: y) }
                : { dropout_backward(shape: shape, rect: rect, p: 0.5, seed: 1, step: 1, dy: UnsafeBufferPointer(x), dx: dx) }
        case "flatten":
            run = { _ = y.update(fromContentsOf: UnsafeBufferPointer(forward ? x : dx)) }
        case "affine":
            let b = floats(c * h * w), db = floats(b.count)
            try check(work, layout == .nchw, "affine runs in NCHW")
            run = forward
                ? { affine_forward(batch: n, x: UnsafeBufferPointer(x), a: 0.5, b: UnsafeBufferPointer(b), y: y) }
                : {
                    var da: Float = 0
                    affine_backward(batch: n, x: UnsafeBufferPointer(x), a: 0.5, dy: UnsafeBufferPointer(y), dx: dx,
                                    da: &da, db: db)
                }
        default:
            let kind: DNNLElementwise.Kind
            switch work.variant {
            case "tanh": kind = .tanh
            case "sigmoid": kind = .sigmoid
            case "", "relu": kind = .relu
            default: throw CalibrationError(work, "unknown element-wise variant '\(work.variant)'")
            }
            let k = DNNLElementwise(kind, n: n, c: c, h: h, w: w, layout: layout)
            retained.append(k)
            run = forward
                ? { k.forward(x: UnsafeBufferPointer(x), y: y) }
                : { k.backward(saved: UnsafeBufferPointer(y), dy: UnsafeBufferPointer(x), dx: dx) }
        }
    }

    fileprivate func linear(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.input, "input")
        let m = try nchw(work, work.output, "output").1
        let k = c * h * w
        let x = floats(n * k), weight = floats(m * k), bias = floats(m), y = floats(n * m)
        switch work.kind {
        case .linearForward:
            run = { linear_forward(batch: n, inFeatures: k, outFeatures: m, x: UnsafeBufferPointer(x),
                                   weight: UnsafeBufferPointer(weight), bias: UnsafeBufferPointer(bias), y: y) }
        case .linearBackwardData:
            let dx = floats(n * k)
            run = { linear_backward_data(batch: n, inFeatures: k, outFeatures: m, dy: UnsafeBufferPointer(y),
                                         weight: UnsafeBufferPointer(weight), dx: dx) }
        default:
            let dweight = floats(m * k), dbias = floats(m)
            run = {
                linear_backward_filter(batch: n, inFeatures: k, outFeatures: m, x: UnsafeBufferPointer(x),
                                       dy: UnsafeBufferPointer(y), dweight: dweight)
                linear_backward_bias(batch: n, outFeatures: m, dy: UnsafeBufferPointer(y), dbias: dbias)
            }
        }
    }

    fileprivate func locallyConnected(_ work: KernelWork) throws {
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

    fileprivate func loss(_ work: KernelWork) throws {
        let shape = work.input.isEmpty ? work.output : work.input
        try check(work, shape.count >= 2 && shape.allSatisfy { $0 >= 1 }, "logits \(shape) are not [N, classes, ...]")
        let n = shape[0], classes = shape[1...].reduce(1, *)
        let logits = floats(n * classes), probs = floats(n * classes), dlogits = floats(n * classes)
        let labels = UnsafeBufferPointer(indices(n, below: classes))
        let backward = work.variant.hasSuffix("_backward")
        switch backward ? String(work.variant.dropLast("_backward".count)) : work.variant {
        case "evaluate":
            run = { _ = accuracy_count(batch: n, classes: classes, scores: UnsafeBufferPointer(logits), labels: labels) }
        case "multiclass_svm":
            run = backward
                ? { multiclass_svm_backward(batch: n, classes: classes, scores: UnsafeBufferPointer(logits), labels: labels,
                                            globalBatch: n, dscores: dlogits) }
                : { _ = multiclass_svm_forward(batch: n, classes: classes, scores: UnsafeBufferPointer(logits),
                                               labels: labels, globalBatch: n) }
        case "", "softmax_cross_entropy":
            run = backward
                ? { softmax_cross_entropy_backward(batch: n, classes: classes, probs: UnsafeBufferPointer(probs),
                                                   labels: labels, globalBatch: n, dlogits: dlogits) }
                : { _ = softmax_cross_entropy_forward(batch: n, classes: classes, logits: UnsafeBufferPointer(logits),
                                                      labels: labels, globalBatch: n, probs: probs) }
        default:
            throw CalibrationError(work, "unknown loss variant '\(work.variant)'")
        }
    }

    fileprivate func reorder(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.output, "output")
        let blocked = work.block > 1 ? ActivationLayout.blocked(work.block) : ActivationLayout.preferred
        let (from, to) = work.variant == "to_nchw" ? (blocked, ActivationLayout.nchw) : (ActivationLayout.nchw, blocked)
        let k = ActivationReorder(n: n, c: c, h: h, w: w, from: from, to: to)
        retained.append(k)
        let x = floats(k.sourceCount), y = floats(k.destinationCount)
        run = { k(UnsafeBufferPointer(x), y) }
    }

    fileprivate func dataLoad(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.output, "output")
        let dataset: any ImageDataset
        switch work.variant {
        case "idx":
            try check(work, c == 1, "IDX images have one channel")
            dataset = try IDXDataset(imageBytes: Self.idxImages(count: n, height: h, width: w),
                                     labelBytes: Self.idxLabels(count: n), name: "calibration")
        case "npy":
            dataset = try NPYDataset(imageBytes: Self.npyImages(count: n, shape: [c, h, w]),
                                     labelBytes: Self.npyLabels(count: n), classes: 10)
        case "", "synthetic":
            dataset = SyntheticDataset(count: n, imageShape: [c, h, w], classes: 10, seed: 1)
        default: throw CalibrationError(work, "unknown data variant '\(work.variant)'")
        }
        retained.append(dataset)
        let y = floats(n * c * h * w), labels = indices(n, below: 1)
        let samples = Array(0..<n), region = Rect(shape: [n, c, h, w])
        run = {
            dataset.loadImages(samples: samples, region: region, into: y)
            for i in 0..<n { labels[i] = Int32(dataset.label(samples[i])) }
        }
    }

    fileprivate func optimizerUpdate(_ work: KernelWork) throws {
        let count = work.output.reduce(1, *)
        try check(work, count >= 1, "no elements to update")
        let kind = OptimizerKind(rawValue: work.variant.isEmpty ? "momentum" : work.variant)
        guard let kind else { throw CalibrationError(work, "unknown optimizer variant '\(work.variant)'") }
        let settings = OptimizerSettings(kind: kind, learningRate: 1e-3)
        let parameter = floats(count), gradient = floats(count)
        let state = (0..<kind.statesPerParameter).map { _ in floats(count) }
        var step = 1
        run = {
            optimizer_step(settings, step: step, learningRate: 1e-3, parameter: parameter,
                           gradient: UnsafeBufferPointer(gradient), state: state)
            step += 1
        }
    }
}

/// Runs `body` when the trial goes (buffers not of the trial's own element types).
private final class Deallocation {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    deinit { body() }
}
