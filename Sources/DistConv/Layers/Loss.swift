import Foundation
import Geometry
import Kernels

/// Softmax cross-entropy and multiclass SVM over this rank's rows of the batch: the
/// forward returns the rows' share of the mean loss over the global batch (the shares
/// sum to the loss), and writes the softmax (or, for the SVM, the scores) as the
/// second output, which backward and the evaluation read.
///
/// Rows past `validRows` (an evaluation's padded last batch) get label 0 and are left
/// out of the metrics by `EvaluateLayer`; the loss itself is only used in training.
struct LossLayer: ShardLayer {
    let kind: LossKind
    let batch: Int
    let classes: Int
    let firstRow: Int
    var backwardReadsOutput: Bool { true }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        let labels = UnsafeBufferPointer(io.labels)
        guard let probs = io.extra else { preconditionFailure("loss without its probability output") }
        switch kind {
        case .softmaxCrossEntropy:
            return softmax_cross_entropy_forward(batch: batch, classes: classes, logits: io.cx, labels: labels,
                                                 globalBatch: context.globalBatch, probs: probs)
        case .multiclassSVM:
            _ = probs.update(fromContentsOf: io.x)
            return multiclass_svm_forward(batch: batch, classes: classes, scores: io.cx, labels: labels,
                                          globalBatch: context.globalBatch)
        }
    }

    /// The metrics of a model without an evaluation op come from its loss.
    func metrics<T: RuntimeScalar>(_ io: LayerIO<T>, validRows: Int) -> BatchMetrics {
        guard let probs = io.extra else { return BatchMetrics() }
        return BatchMetrics(loss: kind, scores: UnsafeBufferPointer(probs), labels: io.labels, firstRow: firstRow,
                            classes: classes, validRows: validRows)
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        guard let dx = io.dx, let probs = io.extra else { return }
        let labels = UnsafeBufferPointer(io.labels)
        switch kind {
        case .softmaxCrossEntropy:
            softmax_cross_entropy_backward(batch: batch, classes: classes, probs: UnsafeBufferPointer(probs),
                                           labels: labels, globalBatch: context.globalBatch, dlogits: dx)
        case .multiclassSVM:
            multiclass_svm_backward(batch: batch, classes: classes, scores: UnsafeBufferPointer(probs),
                                    labels: labels, globalBatch: context.globalBatch, dscores: dx)
        }
    }
}

/// The metrics of a batch from a loss's second output: per rank, the number of its
/// real rows whose largest score is the label, and the sum of their losses (cross-
/// entropy from the probabilities, hinge from the scores). Summed over ranks by the
/// runtime.
struct EvaluateLayer: ShardLayer {
    let loss: LossKind
    let batch: Int
    let classes: Int
    let firstRow: Int

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double { 0 }
    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {}

    /// (correct, rows, summed loss) over this rank's real rows.
    func metrics<T: RuntimeScalar>(_ io: LayerIO<T>, validRows: Int) -> BatchMetrics {
        BatchMetrics(loss: loss, scores: io.cx, labels: io.labels, firstRow: firstRow, classes: classes,
                     validRows: validRows)
    }
}

/// A batch's metrics on this rank's rows from a loss's second output: the number of its
/// real rows (before `validRows`) whose largest score is the label, and the sum of
/// their losses (cross-entropy from the probabilities, hinge from the scores).
struct BatchMetrics {
    var correct = 0
    var rows = 0
    var summedLoss = 0.0

    init() {}

    init<T: RuntimeScalar>(loss: LossKind, scores all: UnsafeBufferPointer<T>, labels: UnsafeMutableBufferPointer<Int32>,
                           firstRow: Int, classes: Int, validRows: Int) {
        rows = max(0, min(labels.count, validRows - firstRow))
        guard rows > 0 else { return }
        let scores = UnsafeBufferPointer(rebasing: all[0..<(rows * classes)])
        let labels = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(labels)[0..<rows])
        correct = accuracy_count(batch: rows, classes: classes, scores: scores, labels: labels)
        switch loss {
        case .softmaxCrossEntropy:
            for i in 0..<rows {
                summedLoss -= log(Double(max(scores[i * classes + Int(labels[i])], T.leastNormalMagnitude)))
            }
        case .multiclassSVM:
            summedLoss = multiclass_svm_forward(batch: rows, classes: classes, scores: scores, labels: labels,
                                                globalBatch: 1)
        }
    }
}

extension LossLayer: LayerPartitioning {
    /// Its rows of the scores and labels; the loss (a partial sum, whole on every rank)
    /// and the probabilities of its rows.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        let whole = Rect(shape: op.outputShape)
        return ForwardRegions(input: block, result: whole, labels: Rect(ranges: [block.range(0), 0..<1, 0..<1, 0..<1]),
                              outputs: [whole, block])
    }

    /// The probabilities and labels, not the scores.
    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        op.reads(forward, [op.labels]) + [.init(tensor: op.outputs[1], rects: forward.distInput ?? forward.distResult)]
    }

    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] {
        guard case .loss(let l) = op.kind else { return [] }
        let input = r.input.size
        return [KernelWork(kind: .loss, input: input, output: [input[0], 1, 1, 1], variant: l.rawValue)]
    }
    /// The loss writes its scores' gradient whether or not anything reads it.
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        guard case .loss(let l) = op.kind else { return [] }
        return [KernelWork(kind: .loss, input: r.input.size, output: r.input.size, variant: "\(l.rawValue)_backward")]
    }
}

extension EvaluateLayer: LayerPartitioning {
    /// Its rows of the probabilities and labels; the sums (whole on every rank).
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        let whole = Rect(shape: op.outputShape)
        return ForwardRegions(input: block, result: whole, labels: Rect(ranges: [block.range(0), 0..<1, 0..<1, 0..<1]),
                              outputs: [whole])
    }

    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] {
        [KernelWork(kind: .loss, input: r.input.size, output: [r.input.size[0], 1, 1, 1], variant: "evaluate")]
    }
}

// MARK: - Calibration

/// The calibration's trial of the losses' and the evaluation's passes.
extension CalibrationTrial {
    func loss(_ work: KernelWork) throws {
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
}
