import ArgumentParser
import DistConv
import Foundation

/// `distconv checkpoint`: what a checkpoint (or a safetensors file) holds, before resuming.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print what a checkpoint holds: its state, and every tensor's name, dtype, shape and summary.",
        discussion: """
            Examples:
              distconv checkpoint runs/               (the newest checkpoint in runs/)
              distconv checkpoint runs/checkpoint-00001874
              distconv checkpoint model.safetensors
            Each tensor line gives its mean and largest magnitude (%.9g), so two
            checkpoints can be compared at a glance.
            """)

    @Argument(help: "A checkpoint folder, a directory of checkpoints, or a .safetensors file.")
    var path: String

    func run() throws {
        if path.hasSuffix(".safetensors") {
            let file = try Safetensors.read(path: path)
            print(describe(path, file.tensors, file.metadata), terminator: "")
            return
        }
        let checkpoint = try CheckpointReader.resume(path)
        if let folder = checkpoint.folder, let s = checkpoint.state {
            print("checkpoint \(folder) (\(s.format) version \(s.version))")
            print("model \(s.model) (hash \(s.modelHash)), step \(s.step), epoch \(s.epoch + 1) at step \(s.stepInEpoch) of it, seed \(s.seed), batch \(s.batch), written on \(s.ranks) rank\(s.ranks == 1 ? "" : "s")")
            let o = s.optimizer
            print("optimizer \(o.kind.rawValue) lr \(o.learningRate) momentum \(o.momentum) betas \(o.beta1),\(o.beta2) eps \(o.epsilon) weight decay \(o.weightDecay); schedule \(s.schedule), warm-up \(s.warmupSteps)")
            print("grids: " + s.grids.keys.sorted().map { "\($0) \(s.grids[$0] ?? [])" }.joined(separator: ", "))
            for name in ["model.safetensors", "optimizer.safetensors"] {
                let file = try Safetensors.read(path: (folder as NSString).appendingPathComponent(name))
                print(describe(name, file.tensors, file.metadata), terminator: "")
            }
        }
    }

    func describe(_ name: String, _ tensors: [Safetensors.Tensor], _ metadata: [String: String]) -> String {
        let bytes = tensors.reduce(0) { $0 + $1.bytes.count }
        var out = "\(name): \(tensors.count) tensors, \(formatBytes(bytes)) bytes"
        if !metadata.isEmpty { out += " (" + metadata.keys.sorted().map { "\($0)=\(metadata[$0] ?? "")" }.joined(separator: " ") + ")" }
        out += "\n"
        for t in tensors {
            var summary = ""
            if t.dtype == "F32" {
                let v = t.floats
                let mean = v.reduce(0.0) { $0 + Double($1) } / Double(max(v.count, 1))
                let largest = v.reduce(0.0) { max($0, abs(Double($1))) }
                summary = String(format: "  mean %.9g  absmax %.9g", mean, largest)
            } else if t.dtype == "I64", t.bytes.count == 8 {
                summary = "  value \(t.bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) })"
            }
            out += "  \(t.name)  \(t.dtype)  [\(t.shape.map(String.init).joined(separator: ", "))]\(summary)\n"
        }
        return out
    }
}
