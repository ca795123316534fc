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
    /// and the one the other kinds read and write (1: NCHW, 16 or 8: nChw16c, nChw8c); a convolution
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

// MARK: - The kinds (the layers' own in their files: `Layers/*.swift`)

extension CalibrationTrial {
    func check(_ work: KernelWork, _ ok: Bool, _ problem: @autoclosure () -> String) throws(CalibrationError) {
        if !ok { throw CalibrationError(work, problem()) }
    }

    func nchw(_ work: KernelWork, _ shape: [Int], _ what: String) throws(CalibrationError) -> (Int, Int, Int, Int) {
        try check(work, shape.count == 4 && shape.allSatisfy { $0 >= 1 }, "\(what) \(shape) is not [N, C, H, W] of sizes >= 1")
        return (shape[0], shape[1], shape[2], shape[3])
    }

    func window(_ work: KernelWork) throws(CalibrationError) -> (kh: Int, kw: Int, sh: Int, sw: Int) {
        try check(work, work.window.count == 4 && work.window.allSatisfy { $0 >= 1 },
                  "window \(work.window) is not [KH, KW, SH, SW] of sizes >= 1")
        return (work.window[0], work.window[1], work.window[2], work.window[3])
    }

    /// An element-wise work's shape, layout, buffers (input, output, input gradient) and
    /// whether it is the forward pass.
    func elementwiseBuffers(_ work: KernelWork) throws(CalibrationError) -> (
        Int, Int, Int, Int, ActivationLayout, UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>,
        UnsafeMutableBufferPointer<Float>, Bool
    ) {
        let (n, c, h, w) = try nchw(work, work.output, "output")
        let layout = Self.layout(block: work.block)
        let count = layout.count(n: n, c: c, h: h, w: w)
        return (n, c, h, w, layout, floats(count), floats(count), floats(count), work.kind == .elementwiseForward)
    }

    /// Element-wise works by the layer they stand for (their `variant`).
    func elementwise(_ work: KernelWork) throws {
        switch work.variant {
        case "dropout": try dropoutTrial(work)
        case "flatten": try flattenTrial(work)
        case "affine": try affineTrial(work)
        default: try activationTrial(work)
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
final class Deallocation {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    deinit { body() }
}
