/// What a training run does, beside the model and the data: how long, how it optimises,
/// the seed, and where metrics go. The CLI fills it from flags.
public struct TrainingConfiguration: Sendable {
    public var epochs: Int
    /// Stop after this many optimizer steps (counted from the start of training).
    public var steps: Int?
    public var optimizer: OptimizerSettings
    /// `constant`, `step:SIZE[:GAMMA]` or `cosine` (see `LearningRateSchedule.parse`).
    public var schedule: String
    public var warmupSteps: Int
    public var seed: UInt64
    /// JSON lines: one per step and one per epoch (rank 0 writes it).
    public var metricsPath: String?
    /// Give every buffer its own memory instead of the planned arena (a check).
    public var reuseMemory: Bool
    /// Evaluate on the first this many test samples only.
    public var evaluationSamples: Int?
    /// Where checkpoints go (`DIR/checkpoint-<step>/`): every `checkpointEvery` steps, at
    /// the end of each epoch and of the run; the newest `keep` are kept.
    public var checkpointDirectory: String?
    public var checkpointEvery: Int?
    public var keep: Int?
    /// A checkpoint (folder, or a directory of them) to continue from.
    public var resume: String?
    /// A parameters file (safetensors, PyTorch's names) to start from.
    public var initialParameters: String?
    /// The layers' kernels and the activations' layout (oneDNN, blocked where it can).
    public var kernels: ExecutionPlan.Kernels = .preferred
    /// oneDNN's threads per rank.
    public var threads: Int = 1
    /// Convolutions compute their interior while their halo is in flight.
    public var overlap: Bool = true

    public init(epochs: Int = 2, steps: Int? = nil, optimizer: OptimizerSettings, schedule: String = "constant",
                warmupSteps: Int = 0, seed: UInt64 = 0, metricsPath: String? = nil, reuseMemory: Bool = true,
                evaluationSamples: Int? = nil, checkpointDirectory: String? = nil, checkpointEvery: Int? = nil,
                keep: Int? = nil, resume: String? = nil, initialParameters: String? = nil) {
        self.epochs = epochs
        self.steps = steps
        self.optimizer = optimizer
        self.schedule = schedule
        self.warmupSteps = warmupSteps
        self.seed = seed
        self.metricsPath = metricsPath
        self.reuseMemory = reuseMemory
        self.evaluationSamples = evaluationSamples
        self.checkpointDirectory = checkpointDirectory
        self.checkpointEvery = checkpointEvery
        self.keep = keep
        self.resume = resume
        self.initialParameters = initialParameters
    }
}

/// One epoch's figures, as printed and written to the metrics file.
public struct EpochSummary: Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var testLoss: Double
    /// Percent.
    public var testAccuracy: Double
    public var imagesPerSecond: Double
    public var seconds: Double
}
