import Foundation

/// Writes checkpoints as Hugging Face's Trainer lays them out:
/// `DIR/checkpoint-<step, 8 digits>/{model,optimizer}.safetensors` and `state.json`.
///
/// Shards are gathered to rank 0 through the redistribution primitive; rank 0 writes into
/// `DIR/.checkpoint-<step>.tmp/`, fsyncs every file and the folder, renames it to its
/// final name and fsyncs DIR. A crash at any moment leaves the earlier checkpoints as
/// they were and never a partial folder under a final name; readers skip `.tmp` folders.
public struct CheckpointWriter: Sendable {
    public let directory: String
    /// Keep only the newest this many checkpoints (nil: all).
    public let keep: Int?

    public init(directory: String, keep: Int? = nil) {
        self.directory = directory
        self.keep = keep
    }

    public static func folderName(step: Int) -> String { String(format: "checkpoint-%08d", step) }

    /// Collective: every rank gathers, rank 0 writes. Throws on rank 0 only.
    public func write<T>(_ network: Network<T>, state: CheckpointState) throws(CheckpointError) {
        var model = network.gather(network.modelTensors())
        let optimizer = network.gather(network.optimizerTensors(stateNames: state.optimizer.stateNames))
        guard network.communicator.rank == 0 else { return }
        // PyTorch's batch norm keeps a count after its running variance.
        for name in network.countEntries() {
            let op = String(name.dropLast(".num_batches_tracked".count))
            var count = Int64(state.step).littleEndian
            let tensor = Safetensors.Tensor(name: name, dtype: "I64", shape: [], bytes: Data(bytes: &count, count: 8))
            let at = model.firstIndex { $0.name == "\(op).running_var" }.map { $0 + 1 } ?? model.count
            model.insert(tensor, at: at)
        }
        let metadata = ["format": "pt", "step": String(state.step), "model_hash": state.modelHash]
        let final = (directory as NSString).appendingPathComponent(Self.folderName(step: state.step))
        let temporary = (directory as NSString).appendingPathComponent(".\(Self.folderName(step: state.step)).tmp")
        let files = FileManager.default
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if files.fileExists(atPath: temporary) { try files.removeItem(atPath: temporary) }
            try files.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        } catch {
            throw CheckpointError(file: temporary, "cannot create the folder: \(error.localizedDescription)")
        }
        func path(_ name: String) -> String { (temporary as NSString).appendingPathComponent(name) }
        try AtomicFile.writeSynced(Safetensors.encode(model, metadata: metadata), to: path("model.safetensors"))
        Self.pauseForTests()
        try AtomicFile.writeSynced(Safetensors.encode(optimizer, metadata: metadata), to: path("optimizer.safetensors"))
        Self.pauseForTests()
        try AtomicFile.writeSynced(state.encoded(), to: path("state.json"))
        AtomicFile.syncDirectory(temporary)
        Self.pauseForTests()
        if files.fileExists(atPath: final) {
            // The same step written again (a resumed run): swap, then drop the old one.
            let old = (directory as NSString).appendingPathComponent(".\(Self.folderName(step: state.step)).old")
            try? files.removeItem(atPath: old)
            guard rename(final, old) == 0 else { throw CheckpointError(file: final, "cannot replace: \(String(cString: strerror(errno)))") }
            try? files.removeItem(atPath: old)
        }
        guard rename(temporary, final) == 0 else {
            throw CheckpointError(file: final, "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        AtomicFile.syncDirectory(directory)
        if let keep { prune(keep: keep) }
    }

    /// The crash-safety test widens the moments a write is in progress
    /// (`DISTCONV_TEST_CHECKPOINT_PAUSE_MS` between its files) so its kills land inside it.
    static func pauseForTests() {
        if let ms = ProcessInfo.processInfo.environment["DISTCONV_TEST_CHECKPOINT_PAUSE_MS"].flatMap({ UInt32($0) }) {
            usleep(ms * 1000)
        }
    }

    /// Removes all but the newest `keep` complete checkpoints.
    func prune(keep: Int) {
        let all = CheckpointReader.checkpoints(in: directory)
        for (_, folder) in all.dropLast(max(keep, 0)) { try? FileManager.default.removeItem(atPath: folder) }
    }
}
