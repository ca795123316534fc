import Comm
import Geometry

extension Network {
    /// The global value of every parameter on rank 0 (empty arrays elsewhere), in the
    /// plan's order, gathered through the redistribution primitive: each element comes
    /// from the lowest rank that holds it. Collective.
    public func gatherParameters() -> [(name: String, shape: [Int], values: [T])] {
        parameters.map { p in
            (p.spec.name, p.spec.shape, gather(shape: p.spec.shape, rects: p.spec.rects, local: p.value))
        }
    }

    /// One tensor held in parts `rects` (this rank's part in `local`), whole on rank 0.
    func gather(shape: [Int], rects: [Rect], local: UnsafeMutableBufferPointer<T>) -> [T] {
        let ranks = communicator.size
        let source = TensorLayout(shape: shape, write: rects, read: rects)
        let target = TensorLayout.whole(shape: shape, on: 0, ranks: ranks)
        let whole = Rect(shape: shape)
        let r = Redistribution(from: source, to: target, mode: .copy, communicator: communicator,
                               sourceStorage: rects[communicator.rank], targetStorage: target.storage(rank: communicator.rank),
                               tag: 7)
        var out = [T](repeating: 0, count: communicator.rank == 0 ? whole.volume : 0)
        out.withUnsafeMutableBufferPointer { r.execute(from: UnsafeBufferPointer(local), into: $0) }
        return out
    }
}
