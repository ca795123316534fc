import Geometry
import Kernels

/// A fully connected layer over its whole input (flattened in C, H, W order). On a
/// spatially split input each rank multiplies its block by the matching block of the
/// weights `[out, C, H, W]`: the outputs are partial sums over ranks, added up by the
/// redistribution that brings them to the next op. The bias is added (and its gradient
/// taken) by the ranks holding the input's first block only, so it counts once.
struct LinearLayer: ShardLayer {
    let batch: Int
    let inFeatures: Int
    let outFeatures: Int
    let fanIn: Int
    let hasBias: Bool
    /// This rank's block starts at feature 0: it adds the bias.
    let ownsBias: Bool
    var backwardReadsInput: Bool { true }

    init(op: Op, spec: LinearSpec, regions: ShardRegions) {
        batch = regions.input.size[0]
        inFeatures = regions.input.size[1...].reduce(1, *)
        outFeatures = spec.outFeatures
        fanIn = op.inputShape[1...].reduce(1, *)
        hasBias = spec.bias != nil
        ownsBias = regions.input.origin[1...].allSatisfy { $0 == 0 }
    }

    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>) {
        uniform_init(shape: shape, rect: rect, bound: defaultInitBound(fanIn: fanIn), seed: seed, values: values)
    }

    /// PyTorch's `nn.Linear` holds `[out, in]` with the input flattened in C, H, W order:
    /// the same bytes as `[out, C, H, W]`.
    func stateDictEntry(parameter index: Int, op: Op, shape: [Int]) -> (name: String, shape: [Int]) {
        index == 0 ? ("\(op.name).weight", [shape[0], shape[1...].reduce(1, *)]) : ("\(op.name).bias", shape)
    }

    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        linear_forward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, x: io.cx,
                       weight: io.parameter(0), bias: hasBias && ownsBias ? io.parameter(1) : nil, y: io.y)
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        linear_backward_filter(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, x: io.cx,
                               dy: io.cdy, dweight: io.gradients[0])
        if hasBias && ownsBias {
            linear_backward_bias(batch: batch, outFeatures: outFeatures, dy: io.cdy, dbias: io.gradients[1])
        }
        if let dx = io.dx {
            linear_backward_data(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, dy: io.cdy,
                                 weight: io.parameter(0), dx: dx)
        }
    }
}

extension LinearLayer: LayerPartitioning {
    /// Each rank multiplies its block of the input by the matching block of the weights:
    /// a partial sum of the whole output for its batch rows.
    static func regions(of op: Op, block: Rect) -> ForwardRegions {
        guard case .linear(let s) = op.kind else { preconditionFailure("\(op.name) is not linear") }
        let filters = Rect(ranges: [0..<s.outFeatures] + (1..<4).map { block.range($0) })
        let result = Rect(ranges: [block.range(0), 0..<s.outFeatures, 0..<1, 0..<1])
        var params = [(s.weights, filters)]
        if let b = s.bias { params.append((b, Rect(shape: [s.outFeatures]))) }
        return ForwardRegions(input: block, filters: filters, result: result, parameters: params, outputs: [result])
    }

    static func backwardReads(of op: Op, forward: OpPartition) -> [OpPartition.Access] {
        op.reads(forward, [op.input] + op.parameters)
    }

    static func forwardWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] {
        [KernelWork(kind: .linearForward, input: r.input.size, output: r.output.size)]
    }
    static func backwardDataWorks(of op: Op, _ r: ShardRegions, dx: Bool) -> [KernelWork] {
        dx ? [KernelWork(kind: .linearBackwardData, input: r.input.size, output: r.output.size)] : []
    }
    static func backwardWeightsWorks(of op: Op, _ r: ShardRegions) -> [KernelWork] {
        [KernelWork(kind: .linearBackwardWeights, input: r.input.size, output: r.output.size)]
    }
}

// MARK: - Calibration

/// The calibration's trial of a linear layer's passes.
extension CalibrationTrial {
    func linear(_ work: KernelWork) throws {
        let (n, c, h, w) = try nchw(work, work.input, "input")
        let m = try nchw(work, work.output, "output").1
        let k = c * h * w
        let x = floats(n * k), weight = floats(m * k), bias = floats(m), y = floats(n * m)
        switch work.kind {
        case .linearForward:
            run = { linear_forward(batch: n, inFeatures: k, outFeatures: m, x: UnsafeBufferPointer(x),
                                   weight: UnsafeBufferPointer(weight), bias: UnsafeBufferPointer(bias), y: y) }
        case .linearBackwardData:
            let dx = floats(n * k)
            run = { linear_backward_data(batch: n, inFeatures: k, outFeatures: m, dy: UnsafeBufferPointer(y),
                                         weight: UnsafeBufferPointer(weight), dx: dx) }
        default:
            let dweight = floats(m * k), dbias = floats(m)
            run = {
                linear_backward_filter(batch: n, inFeatures: k, outFeatures: m, x: UnsafeBufferPointer(x),
                                       dy: UnsafeBufferPointer(y), dweight: dweight)
                linear_backward_bias(batch: n, outFeatures: m, dy: UnsafeBufferPointer(y), dbias: dbias)
            }
        }
    }
}
