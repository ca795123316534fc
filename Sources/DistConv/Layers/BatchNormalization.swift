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

    init(spec: BatchNormSpec, regions: ShardRegions) {
        self.spec = spec
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

extension BatchNormalizationLayer: LayerPartitioning {
    /// The block, and gamma and beta of its channels.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        guard case .batchNorm(let s) = op.kind else { preconditionFailure("\(op.name) is not batch norm") }
        let c = Rect(ranges: [block.range(1)])
        return ForwardRegions(input: block, result: block, parameters: [(s.gamma, c), (s.beta, c)], outputs: [block])
    }

    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        op.reads(forward, [op.input] + op.parameters)
    }
}
