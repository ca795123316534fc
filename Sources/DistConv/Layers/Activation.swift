import Kernels

/// ReLU, tanh and sigmoid, elementwise on the shard. Backward reads the output (ReLU's
/// `y > 0` is the same test as `x > 0`), so the input need not stay alive.
struct ActivationLayer: ShardLayer {
    let function: Activation
    var backwardReadsOutput: Bool { true }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        switch function {
        case .relu: relu_forward(x: io.cx, y: io.y)
        case .tanh: tanh_forward(x: io.cx, y: io.y)
        case .sigmoid: sigmoid_forward(x: io.cx, y: io.y)
        }
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        guard let dx = io.dx else { return }
        switch function {
        case .relu: relu_backward(x: io.cy, dy: io.cdy, dx: dx)
        case .tanh: tanh_backward(y: io.cy, dy: io.cdy, dx: dx)
        case .sigmoid: sigmoid_backward(y: io.cy, dy: io.cdy, dx: dx)
        }
    }
}

extension ActivationLayer: LayerPartitioning {
    /// The kernels are elementwise over the buffer, so any layout works where f(0) = 0
    /// keeps a blocked layout's padded channels zero (ReLU, tanh); sigmoid's would become
    /// 0.5, so it takes NCHW.
    static func layouts(of op: Op) -> LayerLayouts {
        guard case .activation(let a) = op.kind, a != .sigmoid else { return .nchw }
        return .preserving
    }

    /// Backward reads the output, not the input.
    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        [.init(tensor: op.outputs[0], rects: forward.distResult)]
    }
}
