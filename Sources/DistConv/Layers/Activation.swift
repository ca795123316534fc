import Geometry
import Kernels

/// ReLU, tanh and sigmoid, elementwise on the shard: oneDNN's eltwise primitives (Float,
/// NCHW or blocked; padded channels stay zero) or the reference loops. Backward reads
/// the output (ReLU's `y > 0` is the same test as `x > 0`), so the input need not stay
/// alive.
struct ActivationLayer: ShardLayer {
    let function: Activation
    let onednn: Bool
    let layout: ActivationLayout
    let block: Rect
    var backwardReadsOutput: Bool { true }
    /// ReLU on oneDNN in a blocked layout: its strided loops (`Activation+Strided.swift`).
    var takesStridedOutput: Bool {
        if case .blocked = layout { return function == .relu && onednn }
        return false
    }

    init(function: Activation, regions: ShardRegions) {
        self.function = function
        onednn = regions.onednn
        layout = regions.inputLayout
        block = regions.output
        precondition(onednn || layout == .nchw, "\(function): the reference activation runs in NCHW, planned \(layout)")
    }

    func makeKernels() throws(KernelShapeError) -> AnyObject? {
        guard onednn, block.dimensions == 4, !block.isEmpty else { return nil }
        let kind: DNNLElementwise.Kind = switch function {
        case .relu: .relu
        case .tanh: .tanh
        case .sigmoid: .sigmoid
        }
        return DNNLElementwise(kind, n: block.size[0], c: block.size[1], h: block.size[2], w: block.size[3], layout: layout)
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        if let runs = io.yRuns, let x = floats(io.cx).baseAddress, let y = floats(io.y).baseAddress {
            Self.reluForward(x: x, y: y, runs: runs)
            return 0
        }
        if let k = io.kernels as? DNNLElementwise {
            k.forward(x: floats(io.cx), y: floats(io.y))
            return 0
        }
        switch function {
        case .relu: relu_forward(x: io.cx, y: io.y)
        case .tanh: tanh_forward(x: io.cx, y: io.y)
        case .sigmoid: sigmoid_forward(x: io.cx, y: io.y)
        }
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        guard let dx = io.dx else { return }
        if io.yRuns != nil || io.dyRuns != nil, let y = floats(io.cy).baseAddress, let dy = floats(io.cdy).baseAddress,
           let d = floats(dx).baseAddress, let runs = io.yRuns ?? io.dyRuns
        {
            Self.reluBackward(y: y, yRuns: io.yRuns ?? runs.dense(), dy: dy, dyRuns: io.dyRuns ?? runs.dense(), dx: d)
            return
        }
        if let k = io.kernels as? DNNLElementwise {
            // ReLU's saved tensor is its input; y > 0 exactly where x > 0, so y serves.
            k.backward(saved: floats(io.cy), dy: floats(io.cdy), dx: floats(dx))
            return
        }
        switch function {
        case .relu: relu_backward(x: io.cy, dy: io.cdy, dx: dx)
        case .tanh: tanh_backward(y: io.cy, dy: io.cdy, dx: dx)
        case .sigmoid: sigmoid_backward(y: io.cy, dy: io.cdy, dx: dx)
        }
    }
}

extension ActivationLayer: LayerPartitioning, ElementwiseWorks {
    /// Either layout, the output in the input's.
    static func layouts(of op: Op) -> LayerLayouts { .preserving }

    /// Backward reads the output, not the input.
    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        [.init(tensor: op.outputs[0], rects: forward.distResult)]
    }
}

// MARK: - Calibration

/// The calibration's trial of the activations' passes (oneDNN's eltwise).
extension CalibrationTrial {
    /// An element-wise calibration trial of this layer (`CalibrationTrial.elementwise`).
    func activationTrial(_ work: KernelWork) throws {
        let (n, c, h, w, layout, x, y, dx, forward) = try elementwiseBuffers(work)
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
