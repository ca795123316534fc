/// The optimizers of DESIGN.md §5, as `--optimizer` spells them. Each is a torch.optim
/// class: `sgd` and `momentum` are `SGD` (momentum 0, or momentum with dampening 0 and no
/// Nesterov), `adam` is `Adam` and `adamw` is `AdamW`.
public enum OptimizerKind: String, Sendable, CaseIterable, Equatable, Codable {
    case sgd, momentum, adam, adamw

    /// PyTorch's names for the per-parameter state (the keys of `optimizer.state[p]`
    /// besides `step`), in the order `optimizer_step` takes the buffers.
    public var stateNames: [String] {
        switch self {
        case .sgd: return []
        case .momentum: return ["momentum_buffer"]
        case .adam, .adamw: return ["exp_avg", "exp_avg_sq"]
        }
    }

    /// How many buffers the size of the parameters it keeps: `stateNames.count`, without
    /// building the array (`optimizer_step` checks it on every call; the planner counts it).
    public var statesPerParameter: Int {
        switch self {
        case .sgd: return 0
        case .momentum: return 1
        case .adam, .adamw: return 2
        }
    }
}
