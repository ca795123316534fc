import Comm
import Foundation

/// Where a NaN or an infinity first appeared in a step: the op, forward output or
/// backward gradient, and the lowest rank that saw it there.
public struct NonFiniteSite: Sendable, Equatable, CustomStringConvertible {
    public enum Place: Sendable, Equatable { case output, inputGradient, parameterGradient(String) }
    public var op: String
    public var place: Place
    public var rank: Int

    public var description: String {
        switch place {
        case .output: return "\(op) forward output (rank \(rank))"
        case .inputGradient: return "\(op) backward input gradient (rank \(rank))"
        case .parameterGradient(let name): return "\(op) backward gradient of \(name) (rank \(rank))"
        }
    }
}

extension Network {
    /// True when the step's loss and every gradient are finite, the same answer on every
    /// rank without a collective of its own: the loss is the ranks' sum, the replicated
    /// parameters' gradients are checked after their allreduce (the same values on every
    /// rank), and sharded parameters' gradients, which differ by rank, were checked by
    /// each rank before the totals' allreduce, which counted the ranks that saw a
    /// non-finite one (`shardedGradientsAreFinite`).
    func gradientsAreFinite(_ totals: PassTotals) -> Bool {
        totals.loss.isFinite && totals.ranksWithNonFiniteShards == 0 && Self.allFinite(UnsafeBufferPointer(gradientSlab))
    }

    /// Whether this rank's sharded parameters' gradients are all finite.
    func shardedGradientsAreFinite() -> Bool {
        parameters.allSatisfy { $0.spec.replicated || Self.allFinite(UnsafeBufferPointer($0.gradient)) }
    }

    /// True when no element is NaN or infinite: `x * 0` is 0 for every finite x and NaN
    /// otherwise, summed 16 lanes at a time.
    static func allFinite(_ values: UnsafeBufferPointer<T>) -> Bool {
        guard let base = values.baseAddress else { return true }
        if T.self == Float.self {
            let raw = UnsafeRawPointer(base)
            var acc = SIMD16<Float>(repeating: 0)
            let blocks = values.count / 16
            for b in 0..<blocks { acc += raw.loadUnaligned(fromByteOffset: b * 64, as: SIMD16<Float>.self) * 0 }
            for i in (blocks * 16)..<values.count where !values[i].isFinite { return false }
            return acc == SIMD16<Float>(repeating: 0)
        }
        return values.allSatisfy(\.isFinite)
    }

    /// Runs the loaded batch's forward and backward again, checking each op's output
    /// (forward order) and then each op's gradients (backward order) on this rank, and
    /// agrees across ranks on the first place any rank saw a NaN or an infinity (nil when
    /// none did: then only the loss was). Collective; the gradients are left undefined.
    public func locateNonFinite(globalBatch: Int, step: Int) -> NonFiniteSite? {
        let n = plan.steps.count
        var first = Int.max  // position * 3 + what, what: 0 output, 1 input gradient, 2 + k parameter k
        var firstParameter = 0
        afterOp = { [unowned self] k, backward in
            // Positions only grow as the passes run, so the first one found is this rank's lowest.
            guard first == Int.max else { return }
            let position = backward ? n + (n - 1 - k) : k
            if !backward {
                if !Self.allFinite(UnsafeBufferPointer(io[k].y)) { first = position * 3 }
                return
            }
            let bio = backwardIO[k]
            if let dx = bio.dx, !Self.allFinite(UnsafeBufferPointer(dx)) { first = position * 3 + 1; return }
            for (j, g) in bio.gradients.enumerated() where !Self.allFinite(UnsafeBufferPointer(g)) {
                first = position * 3 + 2
                firstParameter = j
                return
            }
        }
        defer { afterOp = nil }
        _ = computeGradients(globalBatch: globalBatch, step: step)
        // The lowest (place, rank) over the ranks.
        let size = communicator.size
        let mine = first == Int.max ? Int.max : first * size + communicator.rank
        let agreed: Int
        do {
            agreed = try communicator.allreduce(mine, .min)
        } catch {
            communicator.abort(error)
        }
        guard agreed != Int.max else { return nil }
        let rank = agreed % size, code = agreed / size
        let position = code / 3, what = code % 3
        let k = position < n ? position : n - 1 - (position - n)
        let s = plan.steps[k]
        var place = NonFiniteSite.Place.output
        if what == 1 { place = .inputGradient }
        if what == 2 {
            // Which parameter: the rank that saw it knows; it tells the others.
            var index = [rank == communicator.rank ? firstParameter : 0]
            do { try communicator.broadcast(&index, root: rank) } catch { communicator.abort(error) }
            let name = s.parameters.indices.contains(index[0]) ? parameters[s.parameters[index[0]]].spec.name : "a parameter"
            place = .parameterGradient(name)
        }
        return NonFiniteSite(op: s.op.name, place: place, rank: rank)
    }
}
