import ArgumentParser
import DistConv
import Foundation

/// `distconv report`: a metrics file's curves as an SVG.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw the curves of a `train --metrics` file as an SVG: loss and test accuracy, time per step.",
        discussion: """
            Panel 1: the train loss of every step and its running mean, the test loss and
            test accuracy (right axis) at the end of each epoch, against the step. Panel 2:
            rank 0's time per step in ms, stacked: compute, halo (exchanges), allreduce,
            data, waiting. Needs no other program; open the SVG in a browser.

            Examples:
              mpirun -n 2 distconv train --metrics run.jsonl
              distconv report run.jsonl                       # writes run.svg
              distconv report run.jsonl --output curves.svg
            """)

    @Argument(help: "The JSON lines written by `distconv train --metrics`.")
    var metrics: String

    @Option(help: "Where the SVG goes (default: the metrics file with .svg for its extension).")
    var output: String?

    func run() throws {
        let log = try MetricsLog.read(metrics)
        let path = output ?? Self.defaultOutput(for: metrics)
        guard URL(fileURLWithPath: path).standardizedFileURL != URL(fileURLWithPath: metrics).standardizedFileURL else {
            throw CLIError("--output: \(path) is the metrics file itself")
        }
        let name = URL(fileURLWithPath: metrics).lastPathComponent
        let svg = CurvesChart(log, title: "distconv training curves: \(name)").svg()
        guard FileManager.default.createFile(atPath: path, contents: Data(svg.utf8)) else {
            throw CLIError("--output: \(path): cannot write the file")
        }
        let timed = log.steps.contains { $0.milliseconds != nil }
        print("wrote \(path): \(log.steps.count) steps, \(log.epochs.count) epoch\(log.epochs.count == 1 ? "" : "s"); "
            + "loss and test accuracy against step" + (timed ? ", time per step (compute, halo, allreduce, data, waiting)" : ""))
    }

    /// `run.jsonl` -> `run.svg`, next to it.
    static func defaultOutput(for input: String) -> String {
        let url = URL(fileURLWithPath: input)
        let stem = url.pathExtension.isEmpty || url.pathExtension == "svg" ? input : String(input.dropLast(url.pathExtension.count + 1))
        return stem + ".svg"
    }
}
