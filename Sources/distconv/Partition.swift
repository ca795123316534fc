import ArgumentParser
import Comm
import DistConv
import Foundation

/// `distconv partition`: what every tensor and op of a model holds on a rank.
struct PartitionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition",
        abstract: "Print what each rank holds of every tensor and op of a model.",
        discussion: """
            Examples:
              distconv partition --model examples/seed-tiled.json --ranks 4 --rank 1
              distconv partition --model examples/fashion-cnn.json --ranks 4 \\
                  --format svg > split.svg
              distconv partition --graph examples/vgg19.graph --ranks 4 --rank 1
              mpirun -n 4 distconv partition --model examples/fashion-cnn.json \\
                  --output out/
            A graph (--graph) takes grids from --grid, and --batch and --image-size
            re-size it (e.g. --batch 2 --image-size 64).
            Under mpirun, --ranks defaults to the job's size and each rank reports itself.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, svg }

    @OptionGroup var source: ModelSource

    @Option(help: "Number of ranks (default: the MPI job's size, or 1).")
    var ranks: Int?

    @Option(help: "The rank to report (default: every rank; under mpirun, the calling rank).")
    var rank: Int?

    @Option(help: "text (the reference dump's layout), json or svg.")
    var format: Format = .text

    @Option(help: "Write to DIR/partition-rank<R>.<format> instead of standard output.")
    var output: String?

    func run() throws {
        let comm = Communicator.launchedByMPI ? try Communicator.world() : nil
        let ranks = self.ranks ?? comm?.size ?? 1
        guard ranks >= 1 else { throw CLIError("--ranks is \(ranks); it must be at least 1") }
        try checkRank(rank, ranks: ranks)
        let model = try source.load(ranks: ranks).model
        let partition = try Partition(model: model, ranks: ranks)
        let selected: [Int] = rank.map { [$0] } ?? comm.map { [$0.rank] } ?? Array(0..<ranks)

        var documents: [(Int, String)] = []
        switch format {
        case .svg: documents = selected.map { ($0, partition.svg(highlight: selected.count == 1 ? $0 : nil)) }
            if selected.count > 1 { documents = [(-1, partition.svg())] }
        case .text: documents = selected.map { ($0, partition.text(rank: $0)) }
        case .json: documents = selected.map { ($0, partition.json(rank: $0)) }
        }
        if let output {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            var lines: [String] = []
            for (r, text) in documents {
                let name = r < 0 ? "partition.\(format.rawValue)" : "partition-rank\(r).\(format.rawValue)"
                let path = (output as NSString).appendingPathComponent(name)
                do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                    throw CLIError("\(path): cannot write: \(error.localizedDescription)")
                }
                lines.append("rank \(r < 0 ? "all" : String(r)) of \(ranks): wrote \(path)")
            }
            if let comm { try printInRankOrder(lines.joined(separator: "\n"), comm: comm) } else { lines.forEach { print($0) } }
        } else if let comm, rank == nil {
            try printInRankOrder(documents.map(\.1).joined(separator: "\n"), comm: comm)
        } else {
            print(documents.map(\.1).joined(separator: "\n"), terminator: "")
        }
    }
}
