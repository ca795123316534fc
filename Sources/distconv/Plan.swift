import ArgumentParser
import DistConv
import Foundation

/// `distconv plan`: memory per rank for an imported graph (or a model file) on a grid,
/// and with a machine profile the predicted step time; `--auto` searches grids,
/// `--project` projects scaling over rank counts.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan memory per rank and predict step time; choose grids; project scaling.",
        discussion: """
            Imports a Chainer graph dump (or reads a model file), chooses grids,
            partitions it over --ranks ranks and reports per rank: parameters,
            gradients, optimizer state, activations, the lower bound (most bytes
            alive at once), the arena that activations and gradients are packed
            into, its ratio to the bound, and the peak. With a machine profile
            (--profile) it also predicts one training step (compute, halo,
            allreduce, data) on the slowest rank.

            --auto searches every op's grid for the least predicted step time that
            fits --memory-per-rank and prints it beside the three fixed policies;
            --grid auto partitions with those grids. --project 1,2,4,...,1024
            predicts every policy at each rank count (text, json, or an svg plot).

            Examples:
              distconv plan --graph examples/vgg19.graph --ranks 1
              distconv plan --graph examples/vgg19.graph --ranks 4 --rank 1
              distconv plan --graph examples/vgg19.graph --ranks 8 --grid hybrid
              distconv plan --graph examples/vgg19.graph --ranks 4 --format json
              distconv plan --graph examples/vgg19.graph --ranks 4 --format svg > a.svg
              distconv plan --model examples/conv-stack.json --ranks 4 --grid spatial \\
                  --profile p.json --format json
              distconv plan --graph examples/vgg19.graph --ranks 64 --auto \\
                  --memory-per-rank 16GiB --profile p.json
              distconv plan --graph examples/vgg19.graph --image-size 2048 --batch 32 \\
                  --project 1,4,16,64,256,1024 --profile p.json --inter-node 2,12.5 \\
                  --ranks-per-node 16 --format svg > projection.svg
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, svg }

    @OptionGroup var source: ModelSource
    @OptionGroup var machine: MachineOptions

    @Option(help: "Number of ranks.")
    var ranks: Int = 1

    @Option(help: "Optimizer whose state to count: sgd, momentum, adam or adamw.")
    var optimizer: OptimizerKind = .momentum

    @Option(help: "text, json or svg (the arena of --rank, default rank 0; with --project the plot).")
    var format: Format = .text

    @Option(help: "Also list every arena buffer of this rank (text), or only this rank (json).")
    var rank: Int?

    @Option(help: "Activation storage as train's --layout: blocked (padded channel blocks) or nchw.")
    var layout: LayoutChoice = .blocked

    @Flag(help: "Search every op's grid with the cost model; print it beside the fixed policies.")
    var auto = false

    @Option(help: "Memory limit per rank for --auto, --grid auto and --project: bytes, or e.g. 512MiB, 24GiB.")
    var memoryPerRank: String?

    @Option(help: "Rank counts to project to, e.g. 1,2,4,8,16,32,64,128,256,512,1024.")
    var project: String?

    @Option(help: "The data set predictions load: synthetic, idx (Fashion-MNIST's files) or npy (default: idx for 1x28x28 images, else synthetic, as train).")
    var dataKind: DataKind?

    enum DataKind: String, ExpressibleByArgument, CaseIterable { case synthetic, idx, npy }

    func run() throws {
        let limit = try memoryLimit()
        if let project { return try runProjection(try rankCounts(project, flag: "--project", increasing: true), limit: limit) }
        // Every rank is planned in this process; past a few thousand that is not a report.
        guard (1...4096).contains(ranks) else { throw CLIError("--ranks is \(ranks); it must be from 1 to 4096") }
        try checkRank(rank, ranks: ranks)
        if auto { return try runAuto(limit: limit) }
        var prediction: (MachineProfile, String)?
        if machine.profile != nil || source.grid == .auto { prediction = try machine.load() }
        let search = { (m: Model) throws -> Model in
            guard let (profile, _) = prediction else { throw CLIError("--grid auto needs a machine profile") }
            return try searchGrids(m, profile: profile, ranks: ranks, limit: limit).best.model
        }
        let loaded = try source.load(ranks: ranks, search: search)
        let partition = try Partition(model: loaded.model, ranks: ranks)
        var options = PlanOptions(optimizer: optimizer)
        options.kernels = layout.kernels
        let plan = try MemoryPlan(partition: partition, options: options)
        let totals = loaded.imported.map { GraphTotals(imported: $0, plan: plan) }
        let estimate = try prediction.map { try costModel($0.0, loaded.model).estimate(partition) }
        switch format {
        case .text:
            print(
                plan.text(graph: totals, rank: rank ?? (ranks == 1 ? 0 : nil), policy: loaded.policy),
                terminator: "")
            if let estimate, let (_, name) = prediction {
                print("predicted step on the slowest rank (\(name)): \(estimate.summary)")
            }
        case .json:
            var text = plan.json(graph: totals, rank: rank, policy: loaded.policy)
            if let estimate, let (_, name) = prediction {
                text = Self.adding(
                    "prediction", StepEstimate.json(estimate.document(model: loaded.model, profile: name)), to: text)
            }
            print(text, terminator: "")
        case .svg: print(plan.svg(rank: rank ?? 0), terminator: "")
        }
    }

    func costModel(_ profile: MachineProfile, _ model: Model) -> StepCostModel {
        StepCostModel(rates: profile, kernels: layout.kernels, optimizer: optimizer,
                      dataVariant: dataKind?.rawValue ?? StepCostModel.defaultDataVariant(for: model))
    }

    func searchGrids(_ model: Model, profile: MachineProfile, ranks: Int, limit: Int?) throws -> GridSearch.Result {
        do {
            return try GridSearch(cost: costModel(profile, model), memoryLimit: limit).search(model, ranks: ranks)
        } catch GridSearch.SearchError.noFit(let limit, let smallest) {
            throw CLIError("--memory-per-rank \(StepEstimate.bytes(limit)): no grid fits on \(ranks) ranks; "
                + "the smallest peak any grid reaches is \(StepEstimate.bytes(smallest)) (\(smallest) bytes)")
        }
    }

    /// `--auto`: the searched grids beside the fixed policies.
    func runAuto(limit: Int?) throws {
        let (profile, name) = try machine.load()
        let loaded = try source.load(ranks: ranks) { $0 }
        let result = try searchGrids(loaded.model, profile: profile, ranks: ranks, limit: limit)
        let choices = result.policies + [result.best]
        switch format {
        case .json:
            var fields = choices.map { "\"\($0.name)\": " + StepEstimate.json($0.estimate.document(model: $0.model)) }
            fields.insert("\"prediction\": " + StepEstimate.json(result.best.estimate.document(model: result.best.model, profile: name)), at: 0)
            let body = "{\n\"format\": \"distconv-grid-search\", \"version\": 1, \"ranks\": \(ranks), \"profile\": \""
                + name.replacingOccurrences(of: "\"", with: "'") + "\",\n" + fields.joined(separator: ",\n") + "\n}\n"
            print(body, terminator: "")
        case .text, .svg:
            print("\(loaded.model.name) on \(ranks) ranks, \(name)")
            print(MachineOptions.links(profile))
            if let limit { print("memory limit per rank: \(StepEstimate.bytes(limit))") }
            print("")
            print(ProjectionTable.breakdownHeader)
            for c in choices {
                let fits = limit.map { c.estimate.peakBytesPerRank <= $0 } ?? true
                print(ProjectionTable.breakdownRow(c.name, c.estimate) + (fits ? "" : "  (over the limit)"))
            }
            if let d = result.declined {
                let gain = 1 - d.estimate.seconds / result.best.estimate.seconds
                print(ProjectionTable.breakdownRow(d.name, d.estimate)
                      + String(format: "  (%.1f%% ahead, under the %.0f%% a grid change must gain: not chosen)",
                               100 * gain, 100 * result.minimumGain))
            }
            print("")
            print("auto's grids:")
            for op in result.best.model.ops { print("  \(op.name): \(op.grid.map(String.init).joined(separator: "x"))") }
        }
    }

    /// `--project`: every policy and auto at each rank count.
    func runProjection(_ counts: [Int], limit: Int?) throws {
        let (profile, name) = try machine.load()
        let loaded = try source.load(ranks: 1) { $0 }
        var rows: [ProjectionTable.Row] = []
        for r in counts {
            var row = ProjectionTable.Row(ranks: r)
            guard let result = try? GridSearch(cost: costModel(profile, loaded.model), memoryLimit: limit).search(loaded.model, ranks: r)
            else {
                // Nothing fits the limit here: the fixed policies alone, marked.
                let policies = try GridSearch(cost: costModel(profile, loaded.model), memoryLimit: nil).search(loaded.model, ranks: r)
                for c in policies.policies { row.estimates[c.name] = c.estimate }
                rows.append(row)
                continue
            }
            for c in result.policies + [result.best] { row.estimates[c.name] = c.estimate }
            rows.append(row)
        }
        let table = ProjectionTable(model: loaded.model.name, profile: name, links: MachineOptions.links(profile),
                                    memoryLimit: limit, rows: rows)
        switch format {
        case .text: print(table.text, terminator: "")
        case .json: print(table.json, terminator: "")
        case .svg: print(table.svg, terminator: "")
        }
    }

    func memoryLimit() throws -> Int? {
        guard let memoryPerRank else { return nil }
        guard let bytes = parseBytes(memoryPerRank) else {
            throw CLIError("--memory-per-rank is '\(memoryPerRank)'; give bytes, e.g. 1000000000, 512MiB or 24GiB")
        }
        return bytes
    }

    /// `json` (an object) with one more top-level field.
    static func adding(_ key: String, _ value: String, to json: String) -> String {
        guard let end = json.lastIndex(of: "}") else { return json }
        return String(json[..<end]).trimmingCharacters(in: .whitespacesAndNewlines) + ",\n  \"\(key)\" : " + value + "\n}\n"
    }
}

extension OptimizerKind: ExpressibleByArgument {}
