import DistConv
import Foundation
import Testing
import TestSupport

/// `distconv train` under real mpirun: the same numbers on every rank count and grid,
/// the same bits twice, and a planned arena that computes what separate buffers do.
/// Fashion-MNIST when installed (the test set-up installs it), batch 16, 50 steps.
///
/// How "the same numbers" is judged. Another rank count sums the same products in another
/// order (a weight gradient as partial sums allreduced), so each step differs from one
/// process by float32 rounding: about 1e-7 of the loss. That holds step after step until
/// the rounding decides a near-tie: a max-pool winner or a ReLU's sign flips, and the
/// runs move apart by a step's update in one weight (measured on an AMD EPYC with AVX2:
/// the loss of one step off by 1.7e-5, one weight by 5.4e-4 of the largest, at step 46
/// of 50; on a Xeon with AVX-512 the flip came later or not at all). A wrong halo, a lost
/// gradient or a skipped allreduce is no rounding: it moves the first steps' losses far
/// past 1e-6. So: the first
/// half (25 steps) to 1e-6 of the loss and its parameters to 1e-5 of the largest value,
/// ten and more times tighter than a flip; the second half only to what a flip moves.
@Suite(.serialized) struct TrainTests {
    struct Run {
        var losses: [Double]
        /// After step 25 and step 50, by name.
        var half: [String: [Float]]
        var parameters: [String: [Float]]
        var bytes: Data
        var stdout: String
    }

    static func train(ranks: Int, _ flags: [String]) throws -> Run {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distconv-train-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let metrics = dir + "/metrics.jsonl"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try runMPI(
            ranks: ranks, "distconv",
            ["train", "--steps", "50", "--eval-samples", "64", "--metrics", metrics, "--checkpoint-dir", dir,
             "--checkpoint-every", "25"] + flags,
            timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let lines = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n")
        let losses = lines.compactMap { line -> Double? in
            guard line.contains("\"step\""),
                  let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return nil }
            return object["loss"] as? Double
        }
        func parameters(atStep step: Int) throws -> (Data, [String: [Float]]) {
            let path = dir + "/checkpoint-\(String(format: "%08d", step))/model.safetensors"
            let bytes = try #require(FileManager.default.contents(atPath: path))
            var parameters: [String: [Float]] = [:]
            for t in try Safetensors.decode(bytes, file: path).tensors { parameters[t.name] = t.floats }
            return (bytes, parameters)
        }
        let (_, half) = try parameters(atStep: 25)
        let (bytes, last) = try parameters(atStep: 50)
        return Run(losses: losses, half: half, parameters: last, bytes: bytes, stdout: r.stdout)
    }

    /// `a` against the reference `b` (see the suite's comment for the two halves).
    static func expectSame(_ a: Run, _ b: Run, _ what: String) {
        #expect(a.losses.count == 50 && b.losses.count == 50, "\(what): \(a.losses.count), \(b.losses.count) steps")
        let relative = zip(a.losses, b.losses).map { abs($0 - $1) / abs($1) }
        let first = relative.prefix(25).max() ?? 0, second = relative.dropFirst(25).max() ?? 0
        #expect(first <= 1e-6, "\(what): per-step losses of steps 1-25 differ by \(first) relative")
        #expect(second <= 1e-4, "\(what): per-step losses of steps 26-50 differ by \(second) relative")
        expectSameParameters(a.half, b.half, within: 1e-5, "\(what) after step 25")
        expectSameParameters(a.parameters, b.parameters, within: 1e-2, "\(what) after step 50")
    }

    /// Every tensor within `within` times its largest value in the reference.
    static func expectSameParameters(_ a: [String: [Float]], _ b: [String: [Float]], within: Double, _ what: String) {
        #expect(Set(a.keys) == Set(b.keys), "\(what): \(a.keys.sorted()) vs \(b.keys.sorted())")
        for (name, reference) in b {
            guard let values = a[name], values.count == reference.count else {
                Issue.record("\(what): \(name) missing or of another size")
                continue
            }
            let scale = reference.map { abs(Double($0)) }.max() ?? 1
            let diff = zip(values, reference).map { abs(Double($0) - Double($1)) }.max() ?? 0
            #expect(diff <= within * scale, "\(what): \(name) differs by \(diff) (largest value \(scale))")
        }
    }

    @Test func everyRankCountAndGridGivesTheSameNumbers() throws {
        let one = try Self.train(ranks: 1, ["--batch", "16"])
        #expect(one.losses.first.map { $0 > 2 && $0 < 2.6 } == true, "first loss \(one.losses.first ?? 0)")
        #expect((one.losses.last ?? 9) < (one.losses.first ?? 0), "the loss does not fall")
        for (ranks, flags, grids) in [
            (2, ["--batch", "16"], "data..fc [1, 1, 2, 1]"),         // 2-way over H
            (3, ["--batch", "16"], "data..fc [1, 1, 3, 1]"),         // 28 rows as 10 + 9 + 9
            (4, ["--batch", "16"], "data..fc [1, 1, 2, 2]"),         // the model file's 2x2
            (4, ["--batch", "16", "--grid", "batch"], "data..evaluate [4, 1, 1, 1]"),
        ] {
            let run = try Self.train(ranks: ranks, flags)
            #expect(run.stdout.contains(grids), "\(ranks) ranks \(flags): \(run.stdout)")
            Self.expectSame(run, one, "\(ranks) ranks \(flags)")
        }
    }

    @Test func aBatchSmallerThanTheRanksIsReplicated() throws {
        let one = try Self.train(ranks: 1, ["--batch", "2"])
        let four = try Self.train(ranks: 4, ["--batch", "2"])
        #expect(four.stdout.contains("loss..evaluate [2, 1, 1, 1] (replicated x2)"), "\(four.stdout)")
        Self.expectSame(four, one, "4 ranks at batch 2")
    }

    @Test func autoGridsTrainAndAreNamedOnce() throws {
        let profile = try PlanPredictionCLITests.profile()
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let r = try runMPI(ranks: 2, "distconv", ["train", "--grid", "auto", "--profile", profile, "--steps", "3",
                                                  "--data", "synthetic", "--quiet"], timeout: 120)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("grids (auto, profile \(profile)") }
        #expect(lines.count == 1 && lines[0].contains("conv1 "), "\(r.stdout)")
        // Without --profile the built-in profile chooses, and rank 0 says so.
        let builtIn = try runMPI(ranks: 2, "distconv", ["train", "--grid", "auto", "--steps", "1", "--data", "synthetic",
                                                        "--quiet"], timeout: 120)
        #expect(builtIn.status == 0 && builtIn.stdout.contains("grids (auto, built-in profile"), "\(builtIn.stdout)\n\(builtIn.stderr)")
    }

    @Test func theSameRunTwiceGivesTheSameBits() throws {
        let a = try Self.train(ranks: 4, ["--batch", "16"])
        let b = try Self.train(ranks: 4, ["--batch", "16"])
        #expect(a.bytes == b.bytes && a.losses == b.losses)
        // The arena reuses memory by the plan's lifetimes; separate buffers must give the
        // same bits (a buffer used outside its lifetime would not).
        let separate = try Self.train(ranks: 4, ["--batch", "16", "--no-memory-reuse"])
        #expect(separate.bytes == a.bytes && separate.losses == a.losses)
        // conv2 computes its interior while its halo is in flight and the strips after,
        // and its weight gradient while its input gradient's reverse halo is: the same
        // bits as one after the other.
        let serial = try Self.train(ranks: 4, ["--batch", "16", "--no-overlap"])
        #expect(serial.bytes == a.bytes && serial.losses == a.losses, "overlap changes the bits")
    }

    /// One image over 2 rows: producers write straight into their consumer's halo'd
    /// buffer and the halo exchanges run in place (`ExecutionPlan.Alias`). The same
    /// numbers as one rank; the same bits with separate buffers and without overlap.
    @Test func aRowSplitOfOneImageExchangesInPlace() throws {
        let one = try Self.train(ranks: 1, ["--batch", "1"])
        let two = try Self.train(ranks: 2, ["--batch", "1"])
        #expect(two.stdout.contains("data..fc [1, 1, 2, 1]"), "\(two.stdout)")
        Self.expectSame(two, one, "2 ranks at batch 1")
        let separate = try Self.train(ranks: 2, ["--batch", "1", "--no-memory-reuse"])
        #expect(separate.bytes == two.bytes && separate.losses == two.losses, "memory reuse changes the bits")
        let serial = try Self.train(ranks: 2, ["--batch", "1", "--no-overlap"])
        #expect(serial.bytes == two.bytes && serial.losses == two.losses, "overlap changes the bits")
    }

    /// A small conv stack (examples/conv-stack.json's ops on 1x16x64x64, synthetic data)
    /// on a 2x2 grid: each ReLU writes straight into the next convolution's halo'd input
    /// through a strided view (its block is one run per row there), and reads its output
    /// gradient in place from the convolution's input gradient. The same numbers as one
    /// rank; the same bits without overlap; and at batch 2 over 2 rows (one run per image).
    @Test func aConvStackOn2x2WritesIntoTheHalosThroughStridedViews() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distconv-stack-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/stack.json"
        let conv = #"{"name": "convN", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]}"#
        let ops = [#"{"name": "data", "type": "data", "shape": [1, 16, 64, 64], "classes": 10}"#]
            + (1...3).flatMap { [conv.replacingOccurrences(of: "convN", with: "conv\($0)"), #"{"name": "relu\#($0)", "type": "relu"}"#] }
            + [#"{"name": "pool", "type": "avg_pool", "kernel": [16, 16], "stride": [16, 16]}"#,
               #"{"name": "fc", "type": "linear", "out_features": 10}"#,
               #"{"name": "loss", "type": "softmax_cross_entropy"}"#]
        let json = #"{"format": "distconv-model", "version": 1, "name": "small-stack", "ops": ["#
            + ops.joined(separator: ", ") + "]}"
        try json.write(toFile: model, atomically: true, encoding: .utf8)
        // One image a step of random labels: at --lr 0.01 the runs' 1e-8 rounding
        // differences grow past 1e-5 by step 50 (the same with or without the views);
        // at 0.001 they stay near 1e-7.
        let flags = ["--model", model, "--data", "synthetic", "--lr", "0.001"]
        let one = try Self.train(ranks: 1, flags)
        let four = try Self.train(ranks: 4, flags + ["--grid", "spatial"])
        #expect(four.stdout.contains("[1, 1, 2, 2]"), "\(four.stdout)")
        Self.expectSame(four, one, "the stack on 2x2")
        let serial = try Self.train(ranks: 4, flags + ["--grid", "spatial", "--no-overlap"])
        #expect(serial.bytes == four.bytes && serial.losses == four.losses, "overlap changes the bits")
        // Two images over 2 rows: the block is one run per image there, a strided view too.
        let pair = try Self.train(ranks: 1, flags + ["--batch", "2"])
        let rows = try Self.train(ranks: 2, flags + ["--batch", "2", "--grid", "spatial"])
        #expect(rows.stdout.contains("[1, 1, 2, 1]"), "\(rows.stdout)")
        Self.expectSame(rows, pair, "the stack at batch 2 on 2 rows")
    }

    /// The whole model's gradients (conv, affine, tanh, batch norm, max and average
    /// pooling, dropout, linear, loss) against central differences in Double, at every
    /// rank count; 4 ranks split a 9x7 image 2x2 unevenly and replicate the loss.
    @Test(arguments: [1, 2, 3, 4]) func gradientsMatchCentralDifferences(ranks: Int) throws {
        let r = try runMPI(ranks: ranks, "mpi-checks", ["gradients"], timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("PASS gradients on \(ranks) ranks"), "\(r.stdout)")
    }
}
