import Geometry
import Kernels

/// Batch normalization over (N, H, W) per channel on a shard. Training statistics are
/// merged over every rank holding the same channels through the step's reducer (in rank
/// order, so a run is bit-reproducible); evaluation uses the running statistics, updated
/// as PyTorch does (momentum 0.1, unbiased variance). Gamma starts at 1, beta at 0.
///
/// State, per channel of the block: running mean, running variance, the batch's mean and
/// 1/sqrt(var + eps) saved for backward.
struct BatchNormalizationLayer: ShardLayer {
    let spec: BatchNormSpec
    let batch: Int
    let channels: Int
    let plane: Int
    var stateCount: Int { 4 * channels }
    var backwardReadsInput: Bool { true }

    /// Blocked (Float) runs BatchNormBlocked.swift's loops over the channel blocks.
    let layout: ActivationLayout

    init(spec: BatchNormSpec, regions: ShardRegions) {
        self.spec = spec
        layout = regions.inputLayout
        batch = regions.output.size[0]
        channels = regions.output.size[1]
        plane = regions.output.size[2] * regions.output.size[3]
    }

    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>) {
        values.update(repeating: index == 0 ? 1 : 0)
    }

    /// PyTorch's `running_mean` and `running_var` (its `num_batches_tracked` is the step,
    /// written by the checkpoint).
    func stateDictBuffers(op: Op) -> [(name: String, offset: Int, length: Int)] {
        [("\(op.name).running_mean", 0, op.outputShape[1]), ("\(op.name).running_var", channels, op.outputShape[1])]
    }

    /// Running variance starts at 1, the rest of the state at 0.
    func initializeState<T: RuntimeScalar>(_ state: UnsafeMutableBufferPointer<T>) {
        state.update(repeating: 0)
        UnsafeMutableBufferPointer(rebasing: state[channels..<(2 * channels)]).update(repeating: 1)
    }

    func slot<T>(_ state: UnsafeMutableBufferPointer<T>, _ k: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(rebasing: state[(k * channels)..<((k + 1) * channels)])
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        if layout != .nchw { return forwardBlocked(io, context) }
        if context.training {
            withUnsafeTemporaryAllocation(of: BatchNormMoments.self, capacity: channels) { moments in
                batchnorm_forward_train(
                    batch: batch, channels: channels, plane: plane, x: io.cx, gamma: io.parameter(0),
                    beta: io.parameter(1), epsilon: spec.eps, momentum: spec.momentum,
                    runningMean: slot(io.state, 0), runningVar: slot(io.state, 1), y: io.y,
                    savedMean: slot(io.state, 2), savedInvStd: slot(io.state, 3), moments: moments,
                    reducer: context.reducer)
            }
        } else {
            batchnorm_forward_eval(
                batch: batch, channels: channels, plane: plane, x: io.cx, gamma: io.parameter(0),
                beta: io.parameter(1), epsilon: spec.eps, runningMean: UnsafeBufferPointer(slot(io.state, 0)),
                runningVar: UnsafeBufferPointer(slot(io.state, 1)), y: io.y)
        }
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        if layout != .nchw { return backwardBlocked(io, context) }
        withUnsafeTemporaryAllocation(of: Double.self, capacity: batchnorm_sums_count(channels: channels)) { sums in
            withUnsafeTemporaryAllocation(of: T.self, capacity: io.x.count) { scratch in
                batchnorm_backward_train(
                    batch: batch, channels: channels, plane: plane, x: io.cx, dy: io.cdy, gamma: io.parameter(0),
                    savedMean: UnsafeBufferPointer(slot(io.state, 2)),
                    savedInvStd: UnsafeBufferPointer(slot(io.state, 3)), dx: io.dx ?? scratch,
                    dgamma: io.gradients[0], dbeta: io.gradients[1], sums: sums, reducer: context.reducer)
            }
        }
    }
}

extension BatchNormalizationLayer {
    /// The same passes in a blocked layout (Float only: the plan blocks only oneDNN's networks).
    func forwardBlocked<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        let state = floats(io.state)
        if context.training {
            withUnsafeTemporaryAllocation(of: BatchNormMoments.self, capacity: channels) { moments in
                batchnorm_forward_train(
                    layout: layout, batch: batch, channels: channels, plane: plane, x: floats(io.cx),
                    gamma: floats(io.parameter(0)), beta: floats(io.parameter(1)), epsilon: spec.eps,
                    momentum: spec.momentum, runningMean: slot(state, 0), runningVar: slot(state, 1), y: floats(io.y),
                    savedMean: slot(state, 2), savedInvStd: slot(state, 3), moments: moments, reducer: context.reducer)
            }
        } else {
            batchnorm_forward_eval(
                layout: layout, batch: batch, channels: channels, plane: plane, x: floats(io.cx),
                gamma: floats(io.parameter(0)), beta: floats(io.parameter(1)), epsilon: spec.eps,
                runningMean: UnsafeBufferPointer(slot(state, 0)), runningVar: UnsafeBufferPointer(slot(state, 1)),
                y: floats(io.y))
        }
        return 0
    }

    func backwardBlocked<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        let state = floats(io.state)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: batchnorm_sums_count(channels: channels)) { sums in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: io.x.count) { scratch in
                batchnorm_backward_train(
                    layout: layout, batch: batch, channels: channels, plane: plane, x: floats(io.cx), dy: floats(io.cdy),
                    gamma: floats(io.parameter(0)), savedMean: UnsafeBufferPointer(slot(state, 2)),
                    savedInvStd: UnsafeBufferPointer(slot(state, 3)), dx: io.dx.map { floats($0) } ?? scratch,
                    dgamma: floats(io.gradients[0]), dbeta: floats(io.gradients[1]), sums: sums, reducer: context.reducer)
            }
        }
    }
}

extension BatchNormalizationLayer: LayerPartitioning {
    /// Either layout, the output in the input's.
    static func layouts(of op: Op) -> LayerLayouts { .preserving }

    /// The block, and gamma and beta of its channels.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        guard case .batchNorm(let s) = op.kind else { preconditionFailure("\(op.name) is not batch norm") }
        let c = Rect(ranges: [block.range(1)])
        return ForwardRegions(input: block, result: block, parameters: [(s.gamma, c), (s.beta, c)], outputs: [block])
    }

    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        op.reads(forward, [op.input] + op.parameters)
    }

    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] {
        [KernelWork(kind: .batchNormForward, input: r.input.size, output: r.output.size, block: r.inputLayout.blockSize)]
    }
    /// One pass gives the input's and the parameters' gradients, wanted or not.
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        [KernelWork(kind: .batchNormBackward, input: r.input.size, output: r.output.size, block: r.inputLayout.blockSize)]
    }
}

// MARK: - Calibration

/// The calibration's trial of batch norm's passes: this layer's kernels on one shard.
extension CalibrationTrial {
    func batchNorm(_ work: KernelWork) throws {
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
}
