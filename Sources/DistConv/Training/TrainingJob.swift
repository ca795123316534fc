import Comm
import Foundation
import Geometry
import Kernels

/// Everything `train` sets up before the first step, in the order that keeps a mistake
/// cheap: the partition, this rank's execution plan and its memory budget (checked
/// against the machine before anything is allocated), the data, then the network.
public final class TrainingJob {
    public let model: Model
    public let partition: Partition
    public let plan: ExecutionPlan
    /// What this rank will allocate, planned before it does.
    public let budget: RankPlan
    /// Every rank's planned total bytes, in rank order.
    public let plannedTotals: [Int]
    public let data: DataSplit
    public let trainer: Trainer
    let policy: String?
    let note: String?
    let communicator: Communicator

    public init(model: Model, policy: String?, data source: DataSource, note: String?,
                configuration: TrainingConfiguration, communicator comm: Communicator) throws {
        self.model = model
        self.policy = policy
        self.note = note
        self.communicator = comm
        partition = try Partition(model: model, ranks: comm.size)
        plan = try ExecutionPlan(partition: partition, rank: comm.rank, kernels: configuration.kernels)
        let states = configuration.optimizer.kind.statesPerParameter
        var planOptions = PlanOptions(optimizer: configuration.optimizer.kind)
        planOptions.kernels = configuration.kernels
        budget = MemoryPlan.plan(plan, partition: partition, options: planOptions)
        // Ranks on one machine share its memory.
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? comm.size
        if let available = MachineMemory.availableBytes(), budget.peakBytes.multipliedReportingOverflow(by: local).partialValue > available
            || budget.peakBytes.multipliedReportingOverflow(by: local).overflow
        {
            let largest = budget.largestBuffer.map { ", the largest buffer \($0.tensor) \(formatBytes($0.bytes)) bytes" } ?? ""
            throw ModelError(
                file: model.source, field: "memory",
                "rank \(comm.rank) plans \(formatBytes(budget.peakBytes)) bytes (\(local) ranks on this machine), "
                    + "the machine has \(formatBytes(available)) bytes available\(largest)")
        }
        plannedTotals = try comm.allgather(budget.peakBytes)
        let shape = model.dataOp.outputShape
        guard case .data(_, let classes) = model.dataOp.kind else { preconditionFailure("first op is not data") }
        data = try source.open(shape: shape, classes: classes, seed: configuration.seed)
        guard data.train.count >= model.batch else {
            throw ModelError(file: model.source, field: "batch",
                             "batch \(model.batch) is larger than the \(data.train.count) training samples of \(data.train.name)")
        }
        DNNLEngine.setThreads(configuration.threads)
        let network = Network<Float>(partition: partition, plan: plan, communicator: comm, seed: configuration.seed,
                                     optimizerStates: states, reuseMemory: configuration.reuseMemory)
        network.overlap = configuration.overlap
        trainer = try Trainer(network: network, data: data, configuration: configuration)
        trainer.fault = try TestFault.fromEnvironment()
        Activity.opNames = plan.steps.map(\.op.name)
        if let path = configuration.resume {
            let checkpoint = try CheckpointReader.resume(path)
            if let state = checkpoint.state {
                guard state.optimizer.kind == configuration.optimizer.kind else {
                    throw CheckpointError(file: (checkpoint.folder ?? path) + "/state.json",
                                          "written with optimizer \(state.optimizer.kind.rawValue), this run uses \(configuration.optimizer.kind.rawValue) (--optimizer)")
                }
                guard state.batch == model.batch else {
                    throw CheckpointError(file: (checkpoint.folder ?? path) + "/state.json",
                                          "written with batch \(state.batch), this run has \(model.batch) (--batch): the data order would not continue")
                }
            }
            try checkpoint.check(against: network, model: model, optimizer: configuration.optimizer)
            network.load(checkpoint, optimizer: configuration.optimizer)
            if let state = checkpoint.state {
                trainer.start = (state.step, state.epoch, state.stepInEpoch)
                resumedFrom = (checkpoint.folder ?? path, state)
            }
        } else if let path = configuration.initialParameters {
            let parameters = try CheckpointReader.parameters(path)
            try parameters.check(against: network, model: model, optimizer: nil)
            network.load(parameters, optimizer: nil)
        }
    }

    /// The checkpoint this run continues, if any.
    public private(set) var resumedFrom: (folder: String, state: CheckpointState)?

    /// Rank 0's opening lines: model, data, grids, memory.
    public func describe() -> [String] {
        var lines: [String] = []
        let ranks = communicator.size
        lines.append("distconv train: \(model.name) (\(model.source)) on \(ranks) rank\(ranks == 1 ? "" : "s"), batch \(model.batch), \(trainer.totalSteps) steps (\(trainer.stepsPerEpoch) per epoch)")
        if let note { lines.append(note) }
        if let (folder, state) = resumedFrom {
            lines.append("resuming \(folder): step \(state.step) (epoch \(state.epoch + 1), step \(state.stepInEpoch) of it), written on \(state.ranks) rank\(state.ranks == 1 ? "" : "s")")
        }
        lines.append("data: \(data.train.name), \(data.train.count) train / \(data.test.count) test samples")
        var groups: [(String, [String])] = []
        for op in model.ops {
            let g = "[" + op.grid.map(String.init).joined(separator: ", ") + "]"
                + (op.gridRanks < ranks ? " (replicated x\(ranks / op.gridRanks)\(ranks % op.gridRanks == 0 ? "" : "+"))" : "")
            if let last = groups.last, last.0 == g { groups[groups.count - 1].1.append(op.name) } else { groups.append((g, [op.name])) }
        }
        lines.append("grids\(policy.map { " (\($0) policy)" } ?? " (from the model file)"): "
            + groups.map { "\($0.1.count == 1 ? $0.1[0] : "\($0.1[0])..\($0.1[$0.1.count - 1])") \($0.0)" }.joined(separator: ", "))
        lines.append("memory per rank (planned, as distconv plan): arena \(formatBytes(budget.arenaBytes)), parameters \(formatBytes(budget.parameterBytes)) + gradients \(formatBytes(budget.parameterGradientBytes)) + optimizer state \(formatBytes(budget.optimizerStateBytes)), layer state \(formatBytes(budget.stateBytes)), exchange scratch \(formatBytes(budget.scratchBytes)); total \(formatBytes(budget.peakBytes)) bytes on rank 0, up to \(formatBytes(plannedTotals.max() ?? 0))")
        return lines
    }

    @discardableResult
    public func run(report: (String) -> Void, progress: ((StepProgress) -> Void)? = nil) -> [EpochSummary] {
        trainer.run(report: report, progress: progress)
    }
}
