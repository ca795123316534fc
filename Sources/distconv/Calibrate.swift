import ArgumentParser
import Comm
import DistConv
import Foundation

/// `distconv calibrate`: times this machine's kernels and messages into a profile for the
/// cost model (`plan --profile`, `plan --auto`).
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Time this machine's kernels, copies and messages into a profile for the cost model.",
        discussion: """
            Start it with as many ranks per node as training will use: the ranks time
            every kernel at once, as they run in training, where they share memory
            bandwidth. With one rank no message is timed (intra_node is written as 0).
            inter_node is not measured (one node): it is --inter-node's, by default
            100 Gb/s InfiniBand's typical 2 us and 12 GB/s.

            Examples:
              launch/local -n 2 distconv calibrate --output profile.json
              launch/local -n 2 distconv calibrate --model examples/conv-stack.json --quick
              distconv plan --model examples/fashion-cnn.json --ranks 4 --profile profile.json
            """)

    @Option(help: "Where to write the profile (JSON), replaced atomically.")
    var output: String = "profile.json"

    @Option(help: "Also time every work of this model file under each grid policy at --model-ranks (repeatable).")
    var model: [String] = []

    @Option(help: "Rank counts of --model's works, e.g. 2 or 1,2,4.")
    var modelRanks: String = "1,2,4"

    @Option(help: "The data set of --model's runs: synthetic, idx or npy (default: idx for 1x28x28 images, else synthetic).")
    var data: String?

    @Option(help: "Link between nodes as ALPHA_US,GBPS: latency in microseconds, bandwidth in GB/s (default 2,12).")
    var interNode: String?

    @Flag(help: "A few shapes per kind and fewer repetitions: seconds, for a check.")
    var quick = false

    func run() throws {
        var options = Calibration.Options()
        options.quick = quick
        if let interNode { options.interNode = try MachineOptions.link(interNode) }
        options.modelRanks = try rankCounts(modelRanks, flag: "--model-ranks", increasing: false)
        if let data, PlanCommand.DataKind(rawValue: data) == nil {
            throw CLIError("--data is '\(data)'; it must be synthetic, idx or npy")
        }
        let directory = (output as NSString).deletingLastPathComponent
        guard access(directory.isEmpty ? "." : directory, W_OK) == 0,
              !FileManager.default.fileExists(atPath: output) || access(output, W_OK) == 0
        else {
            throw CLIError("--output \(output): cannot write there (\(String(cString: strerror(errno))))")
        }
        for path in model {
            let m = try Model(file: try ModelFile.load(path: path), source: path)
            options.models.append((m, data ?? StepCostModel.defaultDataVariant(for: m)))
        }
        let comm = try Communicator.world()
        let started = Date()
        var calibration = Calibration(options: options, communicator: comm)
        if comm.rank == 0 { calibration.progress = { Self.say($0) } }
        let profile = try calibration.run()
        let seconds = Date().timeIntervalSince(started)
        guard comm.rank == 0 else { return }
        try Self.write(profile.encoded(), to: output)
        Self.summary(profile, seconds: seconds).forEach { print($0) }
        print("wrote \(output)")
    }

    /// Temporary file beside `path`, fsynced, renamed over it.
    static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        do {
            try AtomicFile.writeSynced(data, to: temporary)
        } catch {
            unlink(temporary)
            throw CLIError("--output \(path): \(error)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CLIError("--output \(path): cannot rename into place: \(reason)")
        }
        AtomicFile.syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Per kind the rate at its largest sample, then copies and links.
    static func summary(_ p: MachineProfile, seconds: Double) -> [String] {
        var lines = ["calibrated in \(String(format: "%.1f", seconds)) s: \(p.kernels.count) kernel samples; \(p.machine)",
                     "ranks per node \(p.ranksPerNode), threads per rank \(p.threadsPerRank)"]
        for kind in KernelWork.Kind.allCases {
            guard let s = p.kernels.filter({ $0.work.kind == kind }).max(by: { $0.work.work < $1.work.work }) else {
                lines.append("  " + pad(kind.rawValue) + " no sample")
                continue
            }
            let flops = [.convolutionForward, .convolutionBackwardData, .convolutionBackwardWeights, .linearForward,
                         .linearBackwardData, .linearBackwardWeights, .locallyConnectedForward,
                         .locallyConnectedBackwardData, .locallyConnectedBackwardWeights].contains(kind)
            let rate = s.work.work / s.seconds / 1e9
            let shape = { (s: [Int]) in s.map(String.init).joined(separator: "x") }
            lines.append("  " + pad(kind.rawValue) + String(format: " %8.2f ", rate) + (flops ? "GFLOP/s     " : "G elements/s")
                         + " at " + (s.work.input.isEmpty ? "" : shape(s.work.input) + " -> ") + shape(s.work.output)
                         + String(format: " (%.3f ms)", s.seconds * 1e3))
        }
        for (name, link) in [("copy (pack/unpack)", p.copy), ("intra-node message", p.intraNode),
                             ("inter-node message", p.interNode)] {
            let bandwidth = link.beta > 0 ? String(format: "%.2f GB/s", 1 / link.beta / 1e9) : "not measured"
            lines.append("  " + pad(name) + String(format: " alpha %.2f us, ", link.alpha * 1e6) + bandwidth)
        }
        lines.append("  " + pad("waiting for the other ranks") + String(format: " %.1f us at each meeting point", p.synchronisation * 1e6))
        return lines
    }

    static func pad(_ s: String) -> String { s.padding(toLength: max(s.count, 34), withPad: " ", startingAt: 0) }

    static func say(_ line: String) {
        FileHandle.standardError.write(Data(("calibrate: " + line + "\n").utf8))
    }
}
