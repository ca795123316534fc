import Comm
import DistConv
import Foundation
import Geometry

/// The partitioner and the redistribution primitive together, as the training loop will
/// use them: for a small CNN partitioned over the job's ranks (spatial grids), every
/// forward tensor is moved from its producer's write rects to its consumers' read rects
/// (halo exchange; partial sums added up), and every gradient is sent back the mirrored
/// way (reverse halo, accumulated into owners). Values come from a formula of the global
/// index and are checked at every point a rank reads.
///
///   mpi-checks partition-exchange
func checkPartitionExchange(_ comm: Communicator, _ args: [String]) throws -> [String] {
    let file = ModelFile(name: "small-cnn", ops: [
        entry("data", "data") { $0.shape = [4, 2, 13, 11]; $0.classes = 5 },
        entry("conv1", "conv2d") { $0.outChannels = 3; $0.kernel = [3, 3]; $0.padding = [1, 1] },
        entry("relu1", "relu"),
        entry("pool1", "max_pool") { $0.kernel = [2, 2]; $0.coverAll = true },
        entry("conv2", "conv2d") { $0.outChannels = 4; $0.kernel = [3, 3]; $0.padding = [2, 2]; $0.dilation = [2, 2] },
        entry("fc", "linear") { $0.outFeatures = 5 },
        entry("loss", "softmax_cross_entropy"),
    ])
    let model = try GridPolicy.spatial.apply(to: Model(file: file, source: "small-cnn"), ranks: comm.size)
    let partition = try Partition(model: model, ranks: comm.size)
    var failures: [String] = []
    var exchanged = 0
    for t in partition.tensors {
        let layout = t.layout
        switch t.role {
        case .activation, .input, .result:
            failures += t.isPartialSum
                ? accumulateCheck(comm, from: layout, to: layout, inPlace: true)
                : copyCheck(comm, from: layout, to: layout, as: Float.self, inPlace: true)
        case .gradient:
            failures += accumulateCheck(comm, from: layout, to: layout, inPlace: true)
        case .parameter, .parameterGradient, .workspace:
            continue
        }
        exchanged += 1
    }
    // The model must have produced halos, partial sums and reverse halos to check at all.
    if exchanged < 12 { failures.append("only \(exchanged) tensors exchanged") }
    return failures.map { "partition-exchange: \($0)" }
}

private func entry(
    _ name: String, _ type: String, _ configure: (inout ModelFile.OpEntry) -> Void = { _ in }
) -> ModelFile.OpEntry {
    var e = ModelFile.OpEntry(name: name, type: type)
    configure(&e)
    return e
}
