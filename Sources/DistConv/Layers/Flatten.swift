import Geometry
import Kernels
/// `[N, C, H, W]` viewed as `[N, C*H*W, 1, 1]` in C, H, W order (PyTorch's flatten). Its
/// grid splits only the batch, so a rank's input block holds whole images and the
/// element order of input and output is the same.
struct FlattenLayer: ShardLayer {
    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        _ = io.y.update(fromContentsOf: io.x)
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        _ = io.dx?.update(fromContentsOf: io.cdy)
    }
}

extension FlattenLayer: LayerPartitioning, ElementwiseWorks {
    /// Whole images of the block's samples.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        let input = Rect(ranges: [block.range(0), 0..<op.inputShape[1], 0..<op.inputShape[2], 0..<op.inputShape[3]])
        return ForwardRegions(input: input, result: block, outputs: [block])
    }
}

// MARK: - Calibration

/// The calibration's trial of flatten's passes (a copy).
extension CalibrationTrial {
    /// An element-wise calibration trial of this layer (`CalibrationTrial.elementwise`).
    func flattenTrial(_ work: KernelWork) throws {
        let (_, _, _, _, _, x, y, dx, forward) = try elementwiseBuffers(work)
        run = { _ = y.update(fromContentsOf: UnsafeBufferPointer(forward ? x : dx)) }
    }
}
