import ArgumentParser
import Comm
import DistConv
import Foundation

/// `distconv train`: the training loop on every rank of the job.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on every rank of the MPI job (DESIGN.md §5).",
        discussion: """
            With no arguments: examples/fashion-cnn.json on Fashion-MNIST (Debian's
            dataset-fashion-mnist; the built-in synthetic task when it is missing),
            2 epochs, SGD momentum 0.9, lr 0.01, batch 64, seed 0.

            Grids: a model file's own grids when they span the job's ranks, else (and
            for --graph) --grid's policy, spatial by default: ops over H and W as square
            as the rank count factors, ops that split only the batch over N; a tensor too
            small for every rank gets a grid over fewer ranks, replicated on the rest.
            --grid auto chooses every op's grid with the cost model (see distconv plan
            --auto) for the machine of --profile; rank 0 prints the grids chosen.

            Examples:
              mpirun -n 4 distconv train
              mpirun -n 4 distconv train --batch 2 --steps 50
              mpirun -n 2 distconv train --grid batch --metrics m.jsonl
              distconv report m.jsonl              # the curves of that run: m.svg
              mpirun -n 4 distconv train --model examples/seed-tiled.json --batch 8 \\
                  --classes 10 --image-size 41 --data synthetic --steps 20
              mpirun -n 4 distconv train --graph examples/vgg19.graph --image-size 32 \\
                  --batch 8 --classes 10 --data synthetic --steps 20
            """)

    @OptionGroup var source: ModelSource
    @OptionGroup var machine: MachineOptions

    @Option(help: "Epochs over the training set.")
    var epochs: Int = 2

    @Option(help: "Stop after N optimizer steps (counted from the start).")
    var steps: Int?

    @Option(help: "Learning rate.")
    var lr: Double = 0.01

    @Option(help: "sgd, momentum (0.9), adam or adamw.")
    var optimizer: OptimizerKind = .momentum

    @Option(help: "Weight decay (coupled; decoupled for adamw).")
    var weightDecay: Double = 0

    @Option(help: "Learning-rate schedule: constant, step:SIZE[:GAMMA] or cosine.")
    var schedule: String = "constant"

    @Option(help: "Linear warm-up over this many steps.")
    var warmup: Int = 0

    @Option(help: "Seed of initialisation, shuffling and dropout.")
    var seed: UInt64 = 0

    @Option(help: "Data: a directory of IDX files, or 'synthetic' (default: Fashion-MNIST if installed).")
    var data: String?

    @Option(parsing: .upToNextOption, help: "Train on your own arrays: IMAGES.npy LABELS.npy.")
    var dataNpy: [String] = []

    @Option(help: "Number of classes (re-sizes the classifier).")
    var classes: Int?

    @Option(help: "Write JSON lines per step and per epoch to FILE (rank 0).")
    var metrics: String?

    @Option(help: "Evaluate on the first N test samples only.")
    var evalSamples: Int?

    @Option(help: "Write checkpoints to DIR/checkpoint-<step>/ (model.safetensors, optimizer.safetensors, state.json).")
    var checkpointDir: String?

    @Option(help: "Also checkpoint every N steps (always at the end of each epoch and of the run).")
    var checkpointEvery: Int?

    @Option(help: "Keep only the K newest checkpoints.")
    var keep: Int?

    @Option(help: "Continue from a checkpoint folder, or the newest checkpoint in a directory.")
    var resume: String?

    @Option(name: .customLong("init"), help: "Start from the parameters in a safetensors file (PyTorch's state_dict names).")
    var initialParameters: String?

    @Option(help: "End the job when a wait lasts S seconds, naming the ranks that have not arrived (0: never).")
    var stallTimeout: Double = 60

    @Flag(help: "Print where each rank's step time went (per op kind, exchanges, allreduce, data) at the end.")
    var timings = false

    @Flag(help: "Print only the final summary line (and errors).")
    var quiet = false

    @Flag(help: "Give every buffer its own memory instead of the planned arena (a check).")
    var noMemoryReuse = false

    @Option(help: "Activation storage: blocked (oneDNN's nChw16c where the layers take it) or nchw.")
    var layout: LayoutChoice = .blocked

    @Option(help: "oneDNN threads per rank.")
    var threads: Int = 1

    @Flag(help: "Run each halo exchange before its convolution instead of beside its interior.")
    var noOverlap = false

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs is \(epochs); it must be at least 1") }
        if let steps, steps < 1 { throw ValidationError("--steps is \(steps); it must be at least 1") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr is \(lr); it must be a positive number") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay is \(weightDecay); it must be at least 0") }
        guard threads >= 1 else { throw ValidationError("--threads is \(threads); it must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup is \(warmup); it must be at least 0") }
        guard dataNpy.isEmpty || dataNpy.count == 2 else {
            throw ValidationError("--data-npy takes two files, IMAGES.npy LABELS.npy; got \(dataNpy.count)")
        }
        if let evalSamples, evalSamples < 1 { throw ValidationError("--eval-samples is \(evalSamples); it must be at least 1") }
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every is \(checkpointEvery); it must be at least 1") }
        if let keep, keep < 1 { throw ValidationError("--keep is \(keep); it must be at least 1") }
        guard stallTimeout >= 0, stallTimeout.isFinite else {
            throw ValidationError("--stall-timeout is \(stallTimeout); it must be a number of seconds, at least 0")
        }
        if (checkpointEvery != nil || keep != nil) && checkpointDir == nil {
            throw ValidationError("--checkpoint-every and --keep need --checkpoint-dir")
        }
        guard resume == nil || initialParameters == nil else { throw ValidationError("give --resume or --init, not both") }
        guard dataNpy.isEmpty || data == nil else { throw ValidationError("give --data or --data-npy, not both") }
    }

    func run() throws {
        let comm = try Communicator.world()
        let say: (String) -> Void = { line in
            if comm.rank == 0 { print(line); fflush(nil) }
        }
        CrashSignals.install(rank: comm.rank)
        try StallWatch.start(timeout: stallTimeout, on: comm)
        let loaded = try agreed(comm) {
            try source.load(ranks: comm.size, deriveGrids: true, classes: classes, search: searchGrids(ranks: comm.size))
        }
        if source.grid == .auto {
            let (_, name) = try machine.load()
            say("grids (auto, \(name)): " + loaded.model.ops.map { "\($0.name) \($0.grid.map(String.init).joined(separator: "x"))" }
                .joined(separator: ", "))
        }
        let (dataSource, fallback) = DataSource.choose(data: data, npy: dataNpy)
        try agreeOnConfiguration(comm, model: loaded.model, data: dataSource)
        let job = try agreed(comm) { () throws -> TrainingJob in
            var config = TrainingConfiguration(
                epochs: epochs, steps: steps,
                optimizer: OptimizerSettings(kind: optimizer, learningRate: lr, weightDecay: weightDecay),
                schedule: schedule, warmupSteps: warmup, seed: seed, metricsPath: metrics,
                reuseMemory: !noMemoryReuse, evaluationSamples: evalSamples, checkpointDirectory: checkpointDir,
                checkpointEvery: checkpointEvery, keep: keep, resume: resume, initialParameters: initialParameters)
            config.kernels = layout.kernels
            config.threads = threads
            config.overlap = !noOverlap
            return try TrainingJob(model: loaded.model, policy: loaded.policy, data: dataSource,
                                   note: fallback, configuration: config, communicator: comm)
        }
        let display = ProgressDisplay(mode: quiet ? .quiet : stdoutIsTerminal() ? .live : .plain) { text in
            if comm.rank == 0 { print(text, terminator: ""); fflush(nil) }
        }
        job.describe().forEach(display.info)
        job.run(report: display.epoch, progress: display.step)
        display.finish()
        if timings { job.trainer.timingReport(steps: job.trainer.totalSteps).forEach(say) }
        let peaks = try comm.allgather(MachineMemory.peakResidentBytes() ?? 0)
        display.info("peak resident memory per rank (measured): " + peaks.map(formatBytes).joined(separator: ", ")
            + " bytes; planned " + job.plannedTotals.map(formatBytes).joined(separator: ", "))
    }
}

extension TrainCommand {
    /// `--grid auto`: the grid search for this job's ranks on the profile's machine, as
    /// every rank runs it (deterministic, so every rank gets the same grids).
    func searchGrids(ranks: Int) -> (Model) throws -> Model {
        { model in
            let (profile, _) = try machine.load()
            // Price the data set this job loads: --data-npy's arrays, --data's IDX files or synthetic
            // set, else what train reads for the model by default.
            let variant = !dataNpy.isEmpty ? "npy" : data == "synthetic" ? "synthetic" : data != nil ? "idx"
                : StepCostModel.defaultDataVariant(for: model)
            let cost = StepCostModel(rates: profile, kernels: layout.kernels, optimizer: optimizer, overlap: !noOverlap,
                                     dataVariant: variant)
            return try GridSearch(cost: cost).search(model, ranks: ranks).best.model
        }
    }
}

/// Runs `body` on every rank and agrees on the outcome, so that a mistake found on one
/// rank (a file only it cannot read) ends every rank instead of leaving the others
/// waiting: each rank's error is thrown where it happened, and the others exit 2 quietly.
func agreed<R>(_ comm: Communicator, _ body: () throws -> R) throws -> R {
    var result: Result<R, any Error>
    do { result = .success(try body()) } catch { result = .failure(error) }
    var failed = 0
    if case .failure = result { failed = 1 }
    let flags = try comm.allgather(failed)
    switch result {
    case .success(let value) where !flags.contains(1):
        return value
    case .failure(let error) where flags.firstIndex(of: 1) == comm.rank:
        // The lowest failing rank speaks for the job (rank 0 when it failed too).
        throw error
    default:
        throw ExitCode(2)
    }
}
