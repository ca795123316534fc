import DistConv
import Foundation
import Testing
import TestSupport

/// Checkpoints under real mpirun: resumed runs continue exactly, on the same rank count
/// (the same bits) and on another (the same losses); a killed write never leaves a
/// partial checkpoint; a bad checkpoint is one line and exit code 2.
@Suite(.serialized) struct CheckpointTests {
    /// 200 images: 180 to train on (11 steps of 16 an epoch), 20 held out.
    static let data: (images: String, labels: String) = Fixtures.bandImages(count: 200, in: Fixtures.folder("npy"))

    static func train(ranks: Int, _ flags: [String], expect status: Int32 = 0) throws -> ProcessResult {
        let r = try runMPI(ranks: ranks, "distconv",
                           ["train", "--data-npy", data.images, data.labels, "--batch", "16"] + flags, timeout: 300)
        #expect(r.status == status, "\(flags): exit \(r.status)\n\(r.stdout)\n\(r.stderr)")
        return r
    }

    static func losses(_ metrics: String) throws -> [Double] {
        try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard line.contains("\"step\"") else { return nil }
            return (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["loss"] as? Double
        }
    }

    static func file(_ dir: String, _ step: Int, _ name: String) -> Data? {
        FileManager.default.contents(atPath: "\(dir)/\(CheckpointWriter.folderName(step: step))/\(name)")
    }

    @Test(arguments: [1, 4]) func resumingOnTheSameRanksGivesTheSameBits(ranks: Int) throws {
        let straight = Fixtures.folder("straight"), resumed = Fixtures.folder("resumed")
        _ = try Self.train(ranks: ranks, ["--epochs", "2", "--checkpoint-dir", straight])
        let metrics = resumed + "/metrics.jsonl"
        _ = try Self.train(ranks: ranks, ["--epochs", "1", "--checkpoint-dir", resumed, "--metrics", metrics])
        #expect(FileManager.default.fileExists(atPath: "\(resumed)/\(CheckpointWriter.folderName(step: 11))/state.json"))
        let r = try Self.train(ranks: ranks, ["--epochs", "2", "--checkpoint-dir", resumed, "--resume", resumed,
                                              "--metrics", metrics])
        // The resumed run continues the same metrics file: 22 steps in all.
        #expect(try Self.losses(metrics).count == 22)
        #expect(r.stdout.contains("resuming \(resumed)/checkpoint-00000011: step 11"), "\(r.stdout)")
        for name in ["model.safetensors", "optimizer.safetensors"] {
            let a = Self.file(straight, 22, name), b = Self.file(resumed, 22, name)
            #expect(a != nil && a == b, "\(name) differs after resuming on \(ranks) ranks")
        }
    }

    @Test func aCheckpointOfFourRanksResumesOnOneAndTwo() throws {
        let dir = Fixtures.folder("four")
        _ = try Self.train(ranks: 4, ["--steps", "8", "--checkpoint-dir", dir])
        for ranks in [1, 2] {
            let straight = Fixtures.folder("straight") + "/m.jsonl", resumed = Fixtures.folder("resumed") + "/m.jsonl"
            _ = try Self.train(ranks: ranks, ["--steps", "16", "--metrics", straight])
            _ = try Self.train(ranks: ranks, ["--steps", "16", "--metrics", resumed, "--resume", dir])
            let a = try Self.losses(straight), b = try Self.losses(resumed)
            #expect(a.count == 16 && b.count == 8, "\(a.count) and \(b.count) steps")
            let worst = zip(a.suffix(8), b).map { abs($0 - $1) / abs($0) }.max() ?? 1
            #expect(worst <= 1e-5, "on \(ranks) ranks the resumed losses differ by \(worst)")
        }
    }

    /// SIGKILL (mpirun and every rank) at 20 moments of a run that checkpoints every step, its writes slowed so
    /// the kills land at different points inside them: every folder under a final name is
    /// complete, the newest one loads, and the next trial resumes from it.
    @Test func aKilledWriteNeverLeavesAPartialCheckpoint() throws {
        let dir = Fixtures.folder("killed")
        let distconv = productsDirectory.appendingPathComponent("distconv").path
        var inside = 0
        for trial in 0..<20 {
            let p = Process()
            p.executableURL = packageRoot.appendingPathComponent("launch/local")
            p.arguments = ["-n", "2", distconv, "train", "--data-npy", Self.data.images, Self.data.labels, "--batch", "16",
                           "--epochs", "50", "--checkpoint-every", "1", "--keep", "3", "--checkpoint-dir", dir]
                + (trial > 0 ? ["--resume", dir] : [])
            var env = ProcessInfo.processInfo.environment
            env["DISTCONV_TEST_CHECKPOINT_PAUSE_MS"] = "150"
            p.environment = env
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Wait for the first checkpoint of this trial, then a moment that moves on.
            let before = CheckpointReader.checkpoints(in: dir).last?.step ?? -1
            var waited = 0
            while (CheckpointReader.checkpoints(in: dir).last?.step ?? -1) <= before && waited < 600 {
                usleep(50_000)
                waited += 1
            }
            if trial % 2 == 0 {
                // Half the kills at a moment inside a write: wait for one to begin (its
                // files are 150 ms apart), then a moment into it. On a loaded machine a
                // moment picked blind can miss every write.
                var polls = 0
                while !Self.writing(in: dir) && polls < 20_000 {
                    usleep(1_000)
                    polls += 1
                }
                usleep(UInt32((trial * 37_000) % 300_000))
            } else {
                usleep(UInt32((trial * 53_000) % 450_000))
            }
            // mpirun and every rank carry the folder's unique name in their command line.
            let killer = Process()
            killer.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
            killer.arguments = ["-KILL", "-f", dir]
            try killer.run()
            killer.waitUntilExit()
            p.waitUntilExit()
            usleep(200_000)
            for (_, folder) in CheckpointReader.checkpoints(in: dir) {
                for name in ["model.safetensors", "optimizer.safetensors"] {
                    #expect(throws: Never.self, "trial \(trial): \(folder)/\(name)") {
                        _ = try Safetensors.read(path: "\(folder)/\(name)")
                    }
                }
            }
            if Self.writing(in: dir) { inside += 1 }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for name in names where name.hasPrefix("checkpoint-") {
                #expect(FileManager.default.fileExists(atPath: "\(dir)/\(name)/state.json"), "trial \(trial): \(name) incomplete")
            }
        }
        print("\(inside) of 20 kills landed inside a checkpoint write")
        #expect(inside >= 5, "only \(inside) of 20 kills landed inside a write")
        let look = try runProduct("distconv", ["checkpoint", dir])
        #expect(look.status == 0 && look.stdout.contains("model.safetensors: 6 tensors"), "\(look.stdout)\(look.stderr)")
    }

    /// Whether a checkpoint write is in progress in `dir` (its temporary folder exists).
    static func writing(in dir: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains { $0.hasSuffix(".tmp") }
    }

    /// Each corruption of a good checkpoint: exit 2, one line naming the file (and the
    /// tensor), from `train --resume` and from `distconv checkpoint`.
    @Test func badCheckpointsAreOneLine() throws {
        let good = Fixtures.folder("good")
        _ = try Self.train(ranks: 1, ["--steps", "2", "--checkpoint-dir", good])
        let folder = "\(good)/\(CheckpointWriter.folderName(step: 2))"
        let model = try #require(FileManager.default.contents(atPath: "\(folder)/model.safetensors"))
        let headerLength = Int(model.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = String(decoding: model[8..<(8 + headerLength)], as: UTF8.self)
        func patched(_ from: String, _ to: String) -> Data {
            var h = header.replacingOccurrences(of: from, with: to)
            while h.utf8.count < headerLength { h += " " }
            var length = UInt64(h.utf8.count).littleEndian
            return Data(bytes: &length, count: 8) + Data(h.utf8) + model[(8 + headerLength)...]
        }
        var lengthTooLong = model
        lengthTooLong[0] = 0xFF
        lengthTooLong[6] = 0x01
        let cases: [(String, Data?, String)] = [
            ("truncated", model.prefix(model.count - 100), "data_offsets"),
            ("header length", lengthTooLong, "header length"),
            ("not JSON", patched("{\"__metadata__\"", "[\"__metadata__\""), "not a JSON object"),
            ("offsets outside", patched("\"data_offsets\":[0,576]", "\"data_offsets\":[0,99999576]"), "outside"),
            ("wrong shape", patched("[16,1,3,3]", "[16,1,9,1]"), "conv1.weight"),
            ("wrong dtype", patched("\"dtype\":\"F32\",\"shape\":[16,1,3,3]", "\"dtype\":\"I32\",\"shape\":[16,1,3,3]"), "dtype I32"),
            ("another model", patched("conv1.weight", "convX.weight"), "conv1.weight"),
            ("state.json missing", nil, "state.json"),
        ]
        for (what, bytes, expected) in cases {
            let dir = Fixtures.folder("bad")
            let copy = "\(dir)/\(CheckpointWriter.folderName(step: 2))"
            try FileManager.default.copyItem(atPath: folder, toPath: copy)
            if let bytes {
                try bytes.write(to: URL(fileURLWithPath: "\(copy)/model.safetensors"))
            } else {
                try FileManager.default.removeItem(atPath: "\(copy)/state.json")
            }
            let target = bytes == nil ? dir : copy
            let r = try Self.train(ranks: 2, ["--steps", "4", "--resume", target], expect: 2)
            let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("distconv: error: ") }
            #expect(lines.count == 1 && lines[0].contains(expected), "\(what): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(what): \(r.stderr)")
            let look = try runProduct("distconv", ["checkpoint", target])
            if what != "wrong shape" && what != "wrong dtype" && what != "another model" {
                #expect(look.status == 2 && look.stderr.contains("distconv: error: "), "\(what): \(look.stderr)")
            }
        }
    }

    /// Python with safetensors and numpy (installed by the test set-up) opens a
    /// checkpoint of the default model: PyTorch's names, shapes and dtypes, the values
    /// `distconv checkpoint` reports, the same global tensors after 1 and 4 ranks, and
    /// (where torch is installed) `load_state_dict(strict=True)` of the PyTorch model.
    @Test func pythonOpensTheCheckpoint() throws {
        var folders: [String] = []
        for ranks in [1, 4] {
            let dir = Fixtures.folder("python")
            let r = try runMPI(ranks: ranks, "distconv",
                               ["train", "--steps", "20", "--batch", "16", "--eval-samples", "16", "--checkpoint-dir", dir],
                               timeout: 300)
            #expect(r.status == 0, "\(r.stderr)")
            folders.append("\(dir)/\(CheckpointWriter.folderName(step: 20))")
        }
        let distconv = productsDirectory.appendingPathComponent("distconv").path
        let script = packageRoot.appendingPathComponent("Tests/python/check_checkpoint.py").path
        let r = try runProcess("/usr/bin/env", ["python3", script, distconv] + folders, currentDirectory: packageRoot)
        #expect(r.status == 0 && r.stdout.contains("PASS"), "\(r.stdout)\n\(r.stderr)")
    }

    /// `--init` starts from a parameters file (here a checkpoint's model.safetensors,
    /// as PyTorch's `save_file(model.state_dict())` would write it): after one step at a
    /// negligible rate the parameters are the file's.
    @Test func initStartsFromAParametersFile() throws {
        let first = Fixtures.folder("first"), second = Fixtures.folder("second")
        _ = try Self.train(ranks: 2, ["--steps", "5", "--checkpoint-dir", first])
        let file = "\(first)/\(CheckpointWriter.folderName(step: 5))/model.safetensors"
        _ = try Self.train(ranks: 4, ["--steps", "1", "--lr", "1e-30", "--init", file, "--checkpoint-dir", second])
        let a = try Safetensors.read(path: file).tensors
        let b = try Safetensors.read(path: "\(second)/\(CheckpointWriter.folderName(step: 1))/model.safetensors").tensors
        #expect(a.map(\.name) == b.map(\.name))
        for (x, y) in zip(a, b) { #expect(x.floats == y.floats, "\(x.name) is not the file's") }
        // A file of another model's tensors is refused, naming the tensor.
        let r = try Self.train(ranks: 2, ["--steps", "1", "--init", Self.data.labels.replacingOccurrences(of: "labels.npy", with: "none.safetensors")], expect: 2)
        #expect(r.stderr.contains("none.safetensors: cannot read the file"), "\(r.stderr)")
    }

    /// A checkpoint that cannot be written ends the job with one line naming the file.
    @Test func aFailedWriteEndsTheJob() throws {
        let blocker = Fixtures.folder("blocked") + "/a-file"
        FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8))
        let r = try runMPI(ranks: 2, "distconv",
                           ["train", "--data-npy", Self.data.images, Self.data.labels, "--batch", "16", "--steps", "2",
                            "--checkpoint-dir", blocker + "/sub"], timeout: 120)
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("distconv: ") }
        #expect(lines.count == 1 && lines[0].contains(blocker), "\(r.stderr)")
    }

    /// Batch norm's running statistics and count are checkpointed under PyTorch's names,
    /// and a resumed run with batch norm and dropout gives the same bits.
    @Test func batchNormStateIsCheckpointedAndResumed() throws {
        let model = Fixtures.folder("bn") + "/bn.json"
        try """
            {"format": "distconv-model", "version": 1, "name": "bn-cnn", "ops": [
              {"name": "data", "type": "data", "shape": [16, 1, 28, 28], "classes": 10},
              {"name": "conv1", "type": "conv2d", "out_channels": 8, "kernel": [3, 3], "padding": [1, 1]},
              {"name": "bn1", "type": "batch_norm"},
              {"name": "relu1", "type": "relu"},
              {"name": "pool1", "type": "max_pool", "kernel": [2, 2]},
              {"name": "drop1", "type": "dropout", "ratio": 0.2},
              {"name": "fc", "type": "linear", "out_features": 10},
              {"name": "loss", "type": "softmax_cross_entropy"}]}
            """.write(toFile: model, atomically: true, encoding: .utf8)
        let straight = Fixtures.folder("straight"), resumed = Fixtures.folder("resumed")
        _ = try Self.train(ranks: 2, ["--model", model, "--steps", "6", "--checkpoint-dir", straight])
        _ = try Self.train(ranks: 2, ["--model", model, "--steps", "3", "--checkpoint-dir", resumed])
        _ = try Self.train(ranks: 2, ["--model", model, "--steps", "6", "--checkpoint-dir", resumed, "--resume", resumed])
        let file = "\(straight)/\(CheckpointWriter.folderName(step: 6))/model.safetensors"
        let tensors = try Safetensors.read(path: file).tensors
        #expect(tensors.map(\.name) == ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                        "bn1.running_var", "bn1.num_batches_tracked", "fc.weight", "fc.bias"])
        let count = try #require(tensors.first { $0.name == "bn1.num_batches_tracked" })
        #expect(count.dtype == "I64" && count.shape == [] && count.bytes == Data([6, 0, 0, 0, 0, 0, 0, 0]))
        let variance = try #require(tensors.first { $0.name == "bn1.running_var" }).floats
        #expect(variance.count == 8 && variance.allSatisfy { $0 > 0 && $0 != 1 })
        for name in ["model.safetensors", "optimizer.safetensors"] {
            let a = Self.file(straight, 6, name), b = Self.file(resumed, 6, name)
            #expect(a != nil && a == b, "\(name) differs after resuming")
        }
    }
}
