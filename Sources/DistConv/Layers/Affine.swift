import Geometry
import Kernels

/// `y = a*x + b` with a scalar `a` (starts at 1) and a per-position bias `b[1, C, H, W]`
/// (starts at 0) sharded like the output, as the reference dump's `filterA`.
struct AffineLayer: ShardLayer {
    let batch: Int
    let count: Int
    var backwardReadsInput: Bool { true }
    var backwardWorkspace: Int { count }

    init(regions: ShardRegions) {
        batch = regions.output.size[0]
        count = regions.output.volume
    }

    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>) {
        values.update(repeating: index == 0 ? 1 : 0)
    }

    func stateDictEntry(parameter index: Int, op: Op, shape: [Int]) -> (name: String, shape: [Int]) {
        ("\(op.name).\(index == 0 ? "scale" : "bias")", shape)
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        affine_forward(batch: batch, x: io.cx, a: io.parameters[0][0], b: io.parameter(1), y: io.y)
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        var da: T = 0
        affine_backward(batch: batch, x: io.cx, a: io.parameters[0][0], dy: io.cdy, dx: io.dx ?? io.workspace,
                        da: &da, db: io.gradients[1])
        io.gradients[0][0] += da
    }
}

extension AffineLayer: LayerPartitioning, ElementwiseWorks {
    /// The block, the scalar, and the bias at the block's positions (untied, sharded).
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        guard case .affine(let scale, let bias) = op.kind else { preconditionFailure("\(op.name) is not affine") }
        let b = Rect(ranges: [0..<1, block.range(1), block.range(2), block.range(3)])
        return ForwardRegions(input: block, result: block, parameters: [(scale, Rect(shape: [1])), (bias, b)],
                              outputs: [block])
    }

    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        guard case .affine(let scale, _) = op.kind else { return [] }
        return op.reads(forward, [op.input, scale])
    }
}

// MARK: - Calibration

/// The calibration's trial of the affine layer's passes.
extension CalibrationTrial {
    /// An element-wise calibration trial of this layer (`CalibrationTrial.elementwise`).
    func affineTrial(_ work: KernelWork) throws {
        let (n, c, h, w, layout, x, y, dx, forward) = try elementwiseBuffers(work)
        let b = floats(c * h * w), db = floats(b.count)
        try check(work, layout == .nchw, "affine runs in NCHW")
        run = forward
            ? { affine_forward(batch: n, x: UnsafeBufferPointer(x), a: 0.5, b: UnsafeBufferPointer(b), y: y) }
            : {
                var da: Float = 0
                affine_backward(batch: n, x: UnsafeBufferPointer(x), a: 0.5, dy: UnsafeBufferPointer(y), dx: dx,
                                da: &da, db: db)
            }
    }
}
