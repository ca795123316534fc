import Foundation

/// Opens a checkpoint for `--resume` (a checkpoint folder, or a directory of them: the
/// newest complete one) or a parameters file for `--init`, and checks it against the
/// model before anything is loaded: every tensor present, none extra, shapes and
/// dtypes right, the model hash equal. Each problem is one `CheckpointError` naming the
/// file and the tensor.
public struct CheckpointReader {
    /// The folder read from (nil for a bare parameters file).
    public var folder: String?
    public var state: CheckpointState?
    public var model: [String: Safetensors.Tensor]
    public var optimizer: [String: Safetensors.Tensor]
    public var modelFile: String

    /// Complete checkpoints in `directory` (folders `checkpoint-N` holding a
    /// `state.json`), oldest first.
    public static func checkpoints(in directory: String) -> [(step: Int, folder: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            let folder = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("state.json")) else { return nil }
            return (step, folder)
        }.sorted { $0.0 < $1.0 }
    }

    /// The checkpoint at `path`: a folder with `state.json`, or the newest in a directory.
    public static func resume(_ path: String) throws(CheckpointError) -> CheckpointReader {
        var folder = path
        let statePath = { (f: String) in (f as NSString).appendingPathComponent("state.json") }
        if !FileManager.default.fileExists(atPath: statePath(folder)) {
            guard let newest = checkpoints(in: path).last else {
                var isDirectory: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                throw CheckpointError(file: path, exists && isDirectory.boolValue
                    ? "holds no complete checkpoint (a folder checkpoint-N with state.json)"
                    : (exists ? "state.json missing" : "no such checkpoint folder"))
            }
            folder = newest.folder
        }
        guard let data = FileManager.default.contents(atPath: statePath(folder)) else {
            throw CheckpointError(file: statePath(folder), "cannot read the file")
        }
        let state = try CheckpointState(json: data, file: statePath(folder))
        let modelFile = (folder as NSString).appendingPathComponent("model.safetensors")
        let optimizerFile = (folder as NSString).appendingPathComponent("optimizer.safetensors")
        return CheckpointReader(folder: folder, state: state, model: try tensors(modelFile),
                                optimizer: try tensors(optimizerFile), modelFile: modelFile)
    }

    /// A parameters-only safetensors file (PyTorch's `save_file(model.state_dict())`).
    public static func parameters(_ path: String) throws(CheckpointError) -> CheckpointReader {
        CheckpointReader(folder: nil, state: nil, model: try tensors(path), optimizer: [:], modelFile: path)
    }

    static func tensors(_ path: String) throws(CheckpointError) -> [String: Safetensors.Tensor] {
        let decoded = try Safetensors.read(path: path)
        var out: [String: Safetensors.Tensor] = [:]
        for t in decoded.tensors { out[t.name] = t }
        return out
    }

    /// Checks one file's tensors against what the model expects (name -> dtype, shape).
    static func check(_ found: [String: Safetensors.Tensor], file: String,
                      expected: [(name: String, dtype: String, shape: [Int])]) throws(CheckpointError) {
        for e in expected {
            guard let t = found[e.name] else { throw CheckpointError(file: file, tensor: e.name, "missing") }
            guard t.dtype == e.dtype else {
                throw CheckpointError(file: file, tensor: e.name, "dtype \(t.dtype), the model needs \(e.dtype)")
            }
            guard t.shape == e.shape else {
                throw CheckpointError(file: file, tensor: e.name, "shape \(t.shape), the model needs \(e.shape)")
            }
        }
        let names = Set(expected.map(\.name))
        if let extra = found.keys.sorted().first(where: { !names.contains($0) }) {
            throw CheckpointError(file: file, tensor: extra, "not in the model (another model's checkpoint?)")
        }
    }

    /// Checks everything against `network`'s model (and, for a resume, its optimizer).
    public func check<T>(against network: Network<T>, model: Model, optimizer: OptimizerSettings?) throws(CheckpointError) {
        if let state, state.modelHash != model.descriptionHash {
            throw CheckpointError(file: (folder ?? modelFile) + "/state.json",
                                  "written for model '\(state.model)' (hash \(state.modelHash)); this is '\(model.name)' (hash \(model.descriptionHash))")
        }
        let expected = network.modelTensors().map { ($0.name, "F32", $0.shape) } + network.countEntries().map { ($0, "I64", [Int]()) }
        try Self.check(self.model, file: modelFile, expected: expected)
        if state != nil, let optimizer {
            let file = (folder.map { ($0 as NSString).appendingPathComponent("optimizer.safetensors") }) ?? modelFile
            try Self.check(self.optimizer, file: file,
                           expected: network.optimizerTensors(stateNames: optimizer.stateNames).map { ($0.name, "F32", $0.shape) })
        }
    }
}

extension Network {
    /// Loads a checked checkpoint's tensors into every rank's shards (rank 0's copies are
    /// scattered; the others' are not read). Collective.
    public func load(_ checkpoint: CheckpointReader, optimizer: OptimizerSettings?) {
        scatter(modelTensors(), from: checkpoint.model)
        if checkpoint.state != nil, let optimizer {
            scatter(optimizerTensors(stateNames: optimizer.stateNames), from: checkpoint.optimizer)
        }
    }
}
