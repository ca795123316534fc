import Comm
import Foundation
import Geometry

/// The training loop of DESIGN.md §5 on every rank: per epoch a shuffled order of the
/// training set (the same on every rank count), per step this rank's part of the batch,
/// forward, backward, gradient reduction and update; at the end of each epoch the test
/// set in evaluation mode, split over the ranks like a training batch.
///
/// Batches are the model's batch size; the last partial batch of an epoch is dropped
/// (the order of the next epoch is a new shuffle). The test set's last batch is padded
/// with samples from its start that the metrics leave out, so every test sample counts
/// once.
public final class Trainer {
    public let network: Network<Float>
    public let data: DataSplit
    public let configuration: TrainingConfiguration
    public let schedule: LearningRateSchedule
    public let batch: Int
    public let stepsPerEpoch: Int
    public let totalSteps: Int
    let communicator: Communicator
    let metrics: MetricsWriter?

    public init(network: Network<Float>, data: DataSplit, configuration: TrainingConfiguration) throws {
        self.network = network
        self.data = data
        self.configuration = configuration
        self.communicator = network.communicator
        batch = network.partition.model.batch
        stepsPerEpoch = data.train.count / batch
        guard stepsPerEpoch >= 1 else {
            throw ModelError(file: network.partition.model.source, field: "batch",
                             "batch \(batch) is larger than the \(data.train.count) training samples of \(data.train.name)")
        }
        totalSteps = min(configuration.steps ?? Int.max, configuration.epochs * stepsPerEpoch)
        do {
            schedule = try LearningRateSchedule.parse(
                configuration.schedule, baseRate: configuration.optimizer.learningRate,
                warmupSteps: configuration.warmupSteps, totalSteps: totalSteps)
        } catch {
            throw TrainingError.invalid("\(error)")
        }
        metrics = try communicator.rank == 0
            ? configuration.metricsPath.map { try MetricsWriter(path: $0, append: configuration.resume != nil) } : nil
    }

    /// Where training starts: 0, or the position a resumed checkpoint recorded.
    public var start = (step: 0, epoch: 0, stepInEpoch: 0)
    /// The failure tests' injected fault (`DISTCONV_TEST_FAULT`), if any.
    public var fault: TestFault?

    /// Trains from `start` to `totalSteps`; `report` receives rank 0's epoch lines and
    /// `progress` rank 0's position after every step (nothing on other ranks).
    /// Checkpoints are written every `checkpointEvery` steps, at the end of each epoch
    /// and of the run.
    @discardableResult
    public func run(report: (String) -> Void, progress: ((StepProgress) -> Void)? = nil) -> [EpochSummary] {
        var summaries: [EpochSummary] = []
        var step = start.step
        var written = -1
        let epochs = (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch
        for epoch in start.epoch..<max(epochs, start.epoch) where step < totalSteps {
            let order = EpochOrder.permutation(count: data.train.count, seed: configuration.seed, epoch: epoch)
            let first = epoch == start.epoch ? start.stepInEpoch : 0
            let started = StepTimer.now()
            var lossSum = 0.0
            var taken = 0
            // Where this epoch stops: its end, or --steps.
            let last = min(stepsPerEpoch, first + totalSteps - step)
            for s in first..<stepsPerEpoch where step < totalSteps {
                let timed = metrics == nil ? [:] : network.timer.seconds
                let t0 = StepTimer.now()
                let samples = Array(order[(s * batch)..<((s + 1) * batch)])
                Activity.step = step + 1
                fault?.fire(step: step + 1, network: network)
                network.load(samples: samples, from: data.train)
                let rate = schedule.rate(atStep: step)
                let totals = network.trainStep(step: step, globalBatch: batch, optimizer: configuration.optimizer,
                                               learningRate: rate)
                if totals.nonFinite { stopOnNonFinite(step: step, samples: samples, loss: totals.loss) }
                lossSum += totals.loss
                taken += 1
                let t1 = StepTimer.now()
                metrics?.step(step: step + 1, epoch: epoch + 1, loss: totals.loss, rate: rate,
                              imagesPerSecond: Double(batch) / (t1 - t0),
                              time: TimeBreakdown(before: timed, after: network.timer.seconds, wall: t1 - t0))
                step += 1
                if let progress, communicator.rank == 0 {
                    let elapsed = t1 - started
                    progress(StepProgress(
                        epoch: epoch + 1, epochs: epochs, step: s + 1, stepsInEpoch: last,
                        meanLoss: lossSum / Double(taken), imagesPerSecond: Double(taken * batch) / elapsed,
                        secondsLeft: elapsed / Double(taken) * Double(last - s - 1)))
                }
                if let every = configuration.checkpointEvery, step % every == 0, step < totalSteps, s + 1 < stepsPerEpoch {
                    checkpoint(step: step, epoch: epoch, stepInEpoch: s + 1)
                    written = step
                }
            }
            let trainSeconds = StepTimer.now() - started
            network.timer.enabled = false
            let test = evaluate()
            network.timer.enabled = true
            let summary = EpochSummary(
                epoch: epoch + 1, trainLoss: lossSum / Double(max(taken, 1)), testLoss: test.loss,
                testAccuracy: test.accuracy, imagesPerSecond: Double(taken * batch) / trainSeconds,
                seconds: StepTimer.now() - started)
            summaries.append(summary)
            metrics?.epoch(summary, atStep: step)
            if communicator.rank == 0 {
                report(String(format: "epoch %d/%d  train loss %.4f  test loss %.4f  test accuracy %.2f%%  %.0f images/s  %.1f s",
                              summary.epoch, epochs, summary.trainLoss, summary.testLoss, summary.testAccuracy,
                              summary.imagesPerSecond, summary.seconds))
            }
            if written != step {
                let done = step % stepsPerEpoch == 0 && step > 0
                checkpoint(step: step, epoch: done ? epoch + 1 : epoch, stepInEpoch: done ? 0 : step % stepsPerEpoch)
                written = step
            }
        }
        return summaries
    }

    /// Writes the checkpoint of `step` when a directory was given; a failed write ends
    /// the job with one line naming the file (earlier checkpoints stay as they were).
    func checkpoint(step: Int, epoch: Int, stepInEpoch: Int) {
        guard let dir = configuration.checkpointDirectory else { return }
        Activity.set(.checkpoint)
        let model = network.partition.model
        var grids: [String: [Int]] = [:]
        for op in model.ops { grids[op.name] = op.grid }
        let state = CheckpointState(
            format: CheckpointState.formatName, version: CheckpointState.currentVersion, model: model.name,
            modelHash: model.descriptionHash, step: step, epoch: epoch, stepInEpoch: stepInEpoch,
            seed: configuration.seed, batch: batch, optimizer: configuration.optimizer,
            schedule: configuration.schedule, warmupSteps: configuration.warmupSteps, ranks: communicator.size,
            grids: grids)
        do {
            try CheckpointWriter(directory: dir, keep: configuration.keep).write(network, state: state)
        } catch {
            communicator.abort(error)
        }
    }

    /// Where the training steps' time went, per rank: milliseconds per step by category
    /// (every rank's figures gathered to rank 0, in rank order). Collective.
    public func timingReport(steps: Int) -> [String] {
        let categories = network.timer.order
        var mine = categories.map { network.timer.seconds[$0] ?? 0 }
        let total = mine.reduce(0, +)
        mine.append(total)
        let all: [Double]
        do {
            all = try communicator.allgather(mine)
        } catch {
            communicator.abort(error)
        }
        guard communicator.rank == 0 else { return [] }
        let n = mine.count
        var lines = ["time per step in ms (rank: " + (categories + ["total"]).joined(separator: ", ") + ")"]
        for r in 0..<communicator.size {
            let row = all[(r * n)..<((r + 1) * n)].map { String(format: "%.3f", 1000 * $0 / Double(max(steps, 1))) }
            lines.append("  rank \(r): " + row.joined(separator: ", "))
        }
        return lines
    }

    /// Mean loss and accuracy (percent) over the whole test set.
    public func evaluate() -> (loss: Double, accuracy: Double) {
        let n = min(data.test.count, configuration.evaluationSamples ?? data.test.count)
        var correct = 0.0, rows = 0.0, summed = 0.0
        var start = 0
        while start < n {
            let valid = min(batch, n - start)
            let samples = (0..<batch).map { (start + $0) % n }
            network.load(samples: samples, from: data.test)
            let totals = network.evaluate(globalBatch: batch, validRows: valid)
            correct += totals.correct
            rows += totals.rows
            summed += totals.summedLoss
            start += batch
        }
        return (summed / max(rows, 1), 100 * correct / max(rows, 1))
    }
}

/// A user's mistake in how training was asked for: one line naming the flag.
public enum TrainingError: Error, CustomStringConvertible {
    case flag(String, String)
    /// A message that names its flag already.
    case invalid(String)

    public var description: String {
        switch self {
        case let .flag(name, problem): return "\(name): \(problem)"
        case let .invalid(message): return message
        }
    }
}
