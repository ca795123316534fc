import Geometry
import Kernels

/// Inverted dropout: the mask is a pure function of (seed, step, global element index),
/// so it does not depend on the split and backward recomputes it instead of storing it.
/// Off in evaluation.
struct DropoutLayer: ShardLayer {
    let ratio: Double
    let shape: [Int]
    let rect: Rect

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        if context.training {
            dropout_forward(shape: shape, rect: rect, p: ratio, seed: context.seed, step: UInt64(context.step),
                            x: io.cx, y: io.y)
        } else {
            _ = io.y.update(fromContentsOf: io.x)
        }
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        guard let dx = io.dx else { return }
        dropout_backward(shape: shape, rect: rect, p: ratio, seed: context.seed, step: UInt64(context.step),
                         dy: io.cdy, dx: dx)
    }
}

extension DropoutLayer: LayerPartitioning, ElementwiseWorks {
    // Elementwise regions; backward recomputes the mask from the seed and reads nothing.
}

// MARK: - Calibration

/// The calibration's trial of dropout's passes.
extension CalibrationTrial {
    /// An element-wise calibration trial of this layer (`CalibrationTrial.elementwise`).
    func dropoutTrial(_ work: KernelWork) throws {
        let (n, c, h, w, layout, x, y, dx, forward) = try elementwiseBuffers(work)
        let shape = [n, c, h, w], rect = Rect(shape: shape)
        try check(work, layout == .nchw, "dropout runs in NCHW")
        run = forward
            ? { dropout_forward(shape: shape, rect: rect, p: 0.5, seed: 1, step: 1, x: UnsafeBufferPointer(x), y: y) }
            : { dropout_backward(shape: shape, rect: rect, p: 0.5, seed: 1, step: 1, dy: UnsafeBufferPointer(x), dx: dx) }
    }
}
