/// One optimizer's hyper-parameters, with torch.optim's defaults.
///
/// `learningRate` is the base rate; each step's rate comes from a `LearningRateSchedule`
/// and is what `optimizer_step` uses, AdamW's decay included (torch multiplies by the
/// group's current `lr`, which its schedulers overwrite).
public struct OptimizerSettings: Sendable, Equatable, Codable {
    public var kind: OptimizerKind
    public var learningRate: Double
    /// `momentum` only: torch.optim.SGD's `momentum` (dampening 0, nesterov false).
    public var momentum: Double = 0.9
    /// `adam` and `adamw`: the decay rates of the two moments, torch's `betas`.
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    /// `adam` and `adamw`: added to the bias-corrected `sqrt(v)`, torch's `eps`.
    public var epsilon: Double = 1e-8
    /// Coupled for sgd, momentum and adam: the gradient becomes `g + weightDecay * p`
    /// (torch's `weight_decay`, an L2 penalty). Decoupled for adamw: `p *= 1 - lr * weightDecay`
    /// before the Adam update (Loshchilov & Hutter, "Decoupled Weight Decay Regularization").
    public var weightDecay: Double = 0

    public init(
        kind: OptimizerKind, learningRate: Double, momentum: Double = 0.9, beta1: Double = 0.9,
        beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0
    ) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// Names of the per-parameter state buffers, PyTorch's: momentum -> ["momentum_buffer"],
    /// adam/adamw -> ["exp_avg", "exp_avg_sq"], sgd -> [].
    public var stateNames: [String] { kind.stateNames }
}
