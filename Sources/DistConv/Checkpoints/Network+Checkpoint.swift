import Comm
import Foundation
import Geometry

/// A tensor a checkpoint holds globally and the ranks hold in parts.
struct ShardedTensor<T: RuntimeScalar> {
    /// The checkpoint's name (PyTorch's `state_dict` key).
    var name: String
    /// The checkpoint's shape (PyTorch's: a linear weight flattened to `[out, in]`).
    var shape: [Int]
    /// The runtime's global shape of the same elements, and each rank's part of it.
    var layoutShape: [Int]
    var rects: [Rect]
    var local: UnsafeMutableBufferPointer<T>
}

extension Network {
    /// The model's `state_dict` as the runtime holds it: parameters under PyTorch's
    /// names and shapes, batch norm's running statistics, in the ops' order.
    func modelTensors() -> [ShardedTensor<T>] {
        var out: [ShardedTensor<T>] = []
        var done = Set<Int>()
        for (k, s) in plan.steps.enumerated() {
            for (i, p) in s.parameters.enumerated() where done.insert(p).inserted {
                let shard = parameters[p]
                let entry = s.layer.stateDictEntry(parameter: i, op: s.op, shape: shard.spec.shape)
                out.append(ShardedTensor(name: entry.name, shape: entry.shape, layoutShape: shard.spec.shape,
                                         rects: shard.spec.rects, local: shard.value))
            }
            let channels = (0..<plan.ranks).map { Rect(origin: [forwardResult(s.op, rank: $0).origin[1]],
                                                        size: [forwardResult(s.op, rank: $0).size[1]]) }
            for b in s.layer.stateDictBuffers(op: s.op) {
                let n = channels[plan.rank].volume
                out.append(ShardedTensor(
                    name: b.name, shape: [b.length], layoutShape: [b.length], rects: channels,
                    local: UnsafeMutableBufferPointer(rebasing: io[k].state[b.offset..<(b.offset + n)])))
            }
        }
        return out
    }

    /// Names of `state_dict` entries that hold a count, not values (batch norm's
    /// `num_batches_tracked`): written as int64 scalars.
    func countEntries() -> [String] {
        plan.steps.compactMap { s in
            guard case .batchNorm = s.op.kind else { return nil }
            return "\(s.op.name).num_batches_tracked"
        }
    }

    /// The optimizer's state per parameter, `<parameter>.<state>` in PyTorch's names.
    func optimizerTensors(stateNames: [String]) -> [ShardedTensor<T>] {
        var out: [ShardedTensor<T>] = []
        var done = Set<Int>()
        for s in plan.steps {
            for (i, p) in s.parameters.enumerated() where done.insert(p).inserted {
                let shard = parameters[p]
                let entry = s.layer.stateDictEntry(parameter: i, op: s.op, shape: shard.spec.shape)
                for (j, state) in stateNames.enumerated() where j < shard.state.count {
                    out.append(ShardedTensor(name: "\(entry.name).\(state)", shape: entry.shape,
                                             layoutShape: shard.spec.shape, rects: shard.spec.rects,
                                             local: shard.state[j]))
                }
            }
        }
        return out
    }

    /// Every tensor whole on rank 0 as float32 (empty elsewhere), through the
    /// redistribution primitive: each element from the lowest rank holding it. Collective.
    func gather(_ tensors: [ShardedTensor<T>]) -> [Safetensors.Tensor] {
        tensors.compactMap { t in
            let values = gather(shape: t.layoutShape, rects: t.rects, local: t.local)
            guard communicator.rank == 0 else { return nil }
            return Safetensors.Tensor(name: t.name, shape: t.shape, floats: values.map { Float($0) })
        }
    }

    /// The inverse: rank 0's whole tensors (by name; ignored elsewhere) into every rank's
    /// parts. Collective; rank 0 must hold every tensor (the reader checked).
    func scatter(_ tensors: [ShardedTensor<T>], from whole: [String: Safetensors.Tensor]) {
        let ranks = communicator.size
        for t in tensors {
            let source = TensorLayout.whole(shape: t.layoutShape, on: 0, ranks: ranks)
            let target = TensorLayout(shape: t.layoutShape, write: t.rects, read: t.rects)
            let r = Redistribution(from: source, to: target, mode: .copy, communicator: communicator,
                                   sourceStorage: source.storage(rank: communicator.rank),
                                   targetStorage: t.rects[communicator.rank], tag: 8)
            let values: [T] = communicator.rank == 0 ? (whole[t.name]?.floats ?? []).map { T($0) } : []
            values.withUnsafeBufferPointer { r.execute(from: $0, into: t.local) }
        }
        // Packed copies (locally connected weights) follow at the next forward.
    }

    /// One tensor held in parts `rects` (this rank's part in `local`), whole on rank 0.
    func gather(shape: [Int], rects: [Rect], local: UnsafeMutableBufferPointer<T>) -> [T] {
        let ranks = communicator.size
        let source = TensorLayout(shape: shape, write: rects, read: rects)
        let target = TensorLayout.whole(shape: shape, on: 0, ranks: ranks)
        let r = Redistribution(from: source, to: target, mode: .copy, communicator: communicator,
                               sourceStorage: rects[communicator.rank],
                               targetStorage: target.storage(rank: communicator.rank), tag: 7)
        var out = [T](repeating: 0, count: communicator.rank == 0 ? Rect(shape: shape).volume : 0)
        out.withUnsafeMutableBufferPointer { r.execute(from: UnsafeBufferPointer(local), into: $0) }
        return out
    }

    /// The model's global parameters on rank 0 in PyTorch's names (empty elsewhere).
    public func stateDict() -> [Safetensors.Tensor] { gather(modelTensors()) }
}
