import Comm
import DistConv
import Foundation
import Geometry

/// The whole distributed model's gradients against central differences, in Double: every
/// parameter tensor and the input (the sum over ranks of each one's input gradient,
/// halo included), on this job's ranks with the spatial policy's grids
/// (4 ranks: 2x2 over a 9x7 image, uneven 5+4 and 4+3; the loss over 3 samples on 3 of
/// 4 ranks, replicated on the fourth). Relative error per tensor,
/// |numeric - analytic| / |numeric| over all its elements, must be at most 1e-6.
func checkGradients(_ comm: Communicator, _ args: [String]) throws -> [String] {
    func op(_ name: String, _ type: String, _ set: (inout ModelFile.OpEntry) -> Void = { _ in }) -> ModelFile.OpEntry {
        var e = ModelFile.OpEntry(name: name, type: type)
        set(&e)
        return e
    }
    let file = ModelFile(name: "gradient-check", ops: [
        op("data", "data") { $0.shape = [3, 2, 9, 7]; $0.classes = 5 },
        op("conv1", "conv2d") { $0.outChannels = 3; $0.kernel = [3, 3]; $0.padding = [1, 1] },
        op("affine1", "affine"),
        op("tanh1", "tanh"),
        op("bn1", "batch_norm"),
        op("pool1", "max_pool") { $0.kernel = [2, 2]; $0.stride = [2, 2] },
        op("conv2", "conv2d") { $0.outChannels = 4; $0.kernel = [3, 3]; $0.padding = [1, 1] },
        op("relu2", "relu"),
        op("drop2", "dropout") { $0.ratio = 0.25 },
        op("pool2", "avg_pool") { $0.kernel = [2, 2]; $0.stride = [1, 1] },
        op("fc", "linear") { $0.outFeatures = 5 },
        op("loss", "softmax_cross_entropy"),
    ])
    let model = try GridPolicy.spatial.apply(to: Model(file: file, source: "gradient-check"), ranks: comm.size)
    let partition = try Partition(model: model, ranks: comm.size)
    let plan = try ExecutionPlan(partition: partition, rank: comm.rank, inputGradient: true, kernels: .reference)
    let network = Network<Double>(partition: partition, plan: plan, communicator: comm, seed: 7, optimizerStates: 0)
    let data = PerturbedImages(shape: [3, 2, 9, 7], classes: 5)
    let samples = [0, 1, 2]
    network.load(samples: samples, from: data)
    _ = network.computeGradients(globalBatch: 3)
    // The input's gradient lives in the arena only until the next pass: sum it now.
    let whole = Rect(shape: data.shape)
    var analyticInput = [Double](repeating: 0, count: whole.volume)
    for g in network.inputGradients() where g.primary {
        for (k, point) in g.rect.points.enumerated() { analyticInput[whole.linearIndex(of: point)] += g.values[k] }
    }
    try comm.allreduce(&analyticInput)
    let h = 1e-6
    func loss() -> Double {
        network.load(samples: samples, from: data)
        return network.loss(globalBatch: 3)
    }
    var failures: [String] = []
    var report: [String] = []
    func judge(_ name: String, _ diff: Double, _ norm: Double) throws {
        var sums = [diff, norm]
        try comm.allreduce(&sums)
        let error = sums[0].squareRoot() / max(sums[1].squareRoot(), 1e-300)
        report.append("\(name) \(String(format: "%.1e", error))")
        if error > 1e-6 || !error.isFinite { failures.append("\(name): relative error \(error) > 1e-6") }
    }

    for p in network.parameters {
        let analytic = Array(p.gradient)
        var diff = 0.0, norm = 0.0
        for point in Rect(shape: p.spec.shape).points {
            let mine = p.spec.rect.contains(point: point) ? p.spec.rect.linearIndex(of: point) : nil
            let saved = mine.map { p.value[$0] }
            if let i = mine { p.value[i] = saved! + h }
            let up = loss()
            if let i = mine { p.value[i] = saved! - h }
            let down = loss()
            if let i = mine {
                p.value[i] = saved!
                let numeric = (up - down) / (2 * h)
                diff += (numeric - analytic[i]) * (numeric - analytic[i])
                norm += numeric * numeric
            }
        }
        try judge(p.spec.name, diff, norm)
    }

    // The input: every rank's contributions summed into the whole tensor.
    let analytic = analyticInput
    var diff = 0.0, norm = 0.0
    for i in 0..<whole.volume {
        data.delta = (i, h)
        let up = loss()
        data.delta = (i, -h)
        let down = loss()
        data.delta = nil
        let numeric = (up - down) / (2 * h)
        if comm.rank == 0 {
            diff += (numeric - analytic[i]) * (numeric - analytic[i])
            norm += numeric * numeric
        }
    }
    try judge("input", diff, norm)
    if comm.rank == 0 { print("relative errors: " + report.joined(separator: ", ")) }
    return failures
}

/// A fixed batch of images in Double, one element of which can be nudged.
final class PerturbedImages: ImageDataset, @unchecked Sendable {
    let shape: [Int]
    let classes: Int
    var values: [Double]
    var delta: (index: Int, amount: Double)?
    var name: String { "perturbed images" }
    var count: Int { shape[0] }
    var imageShape: [Int] { Array(shape[1...]) }

    init(shape: [Int], classes: Int) {
        self.shape = shape
        self.classes = classes
        let n = shape.reduce(1, *)
        values = (0..<n).map { i -> Double in
            let a: Double = sin(Double(i) * 1.7 + 0.3)
            let b: Double = cos(Double((i * i) % 97))
            return a + 0.5 * b
        }
    }

    func value(_ sample: Int, _ c: Int, _ y: Int, _ x: Int) -> Double {
        let i = ((sample * shape[1] + c) * shape[2] + y) * shape[3] + x
        return values[i] + (delta.map { $0.index == i ? $0.amount : 0 } ?? 0)
    }

    func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Double>) {
        var k = 0
        for n in region.range(0) {
            for c in region.range(1) {
                for y in region.range(2) {
                    for x in region.range(3) {
                        into[k] = value(samples[n], c, y, x)
                        k += 1
                    }
                }
            }
        }
    }

    func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Float>) {
        preconditionFailure("the gradient check runs in Double")
    }

    func label(_ sample: Int) -> Int { (sample * 2 + 1) % classes }
}
