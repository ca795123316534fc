/// What this rank is doing right now, for the stall report (`StallWatch`): the runtime
/// stores a kind, an op index and the step before each phase that may wait, and the
/// label is only formatted when a stall is reported. Setting it is two integer stores,
/// so the training loop pays nothing per message.
///
/// One per process (an MPI rank is a process); only the thread that calls MPI sets it.
public enum Activity {
    /// The phase of a step, named as the stall report and the timings name it.
    public enum Kind: UInt8, Sendable {
        case startUp, forward, forwardExchange, partialSum, backward, backwardExchange, outputRecovery
        case gradientAllreduce, batchNormStatistics, totals, evaluation, checkpoint, finiteCheck, finishing

        func label(op: String?) -> String {
            let op = op ?? "?"
            switch self {
            case .startUp: return "start-up"
            case .forward: return "\(op) forward"
            case .forwardExchange: return "\(op) forward halo exchange"
            case .partialSum: return "\(op) forward partial-sum reduction"
            case .backward: return "\(op) backward"
            case .backwardExchange: return "\(op) backward halo exchange"
            case .outputRecovery: return "\(op) backward output recovery"
            case .gradientAllreduce: return "gradient allreduce"
            case .batchNormStatistics: return "\(op) batch-norm statistics"
            case .totals: return "loss totals"
            case .evaluation: return "evaluation"
            case .checkpoint: return "checkpoint"
            case .finiteCheck: return "non-finite check"
            case .finishing: return "end of training"
            }
        }
    }

    nonisolated(unsafe) public private(set) static var kind: Kind = .startUp
    nonisolated(unsafe) public private(set) static var op: Int = -1
    /// The optimizer step (counted from 1) the rank is in; 0 before training.
    nonisolated(unsafe) public static var step: Int = 0
    /// Op names by index, set once when the network is built.
    nonisolated(unsafe) public static var opNames: [String] = []

    /// Records the phase the rank enters: `op` indexes `opNames` (-1 when none).
    @inline(__always)
    public static func set(_ kind: Kind, op: Int = -1) {
        self.kind = kind
        self.op = op
    }

    /// E.g. `conv2 backward halo exchange`.
    public static var label: String {
        kind.label(op: opNames.indices.contains(op) ? opNames[op] : nil)
    }
}
