import Foundation
import TestSupport
import Testing

/// `distconv plan` and `partition --graph`, run as a user runs them: the built binary.
@Suite(.serialized) struct PlanCLITests {
    static let graph = "examples/vgg19.graph"

    /// Writes `text` to a fresh temporary file and returns its path.
    func temporaryGraph(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-cli-\(UUID().uuidString).graph")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func vggLines() throws -> [String] {
        try String(contentsOfFile: packageRoot.appendingPathComponent(Self.graph).path, encoding: .utf8)
            .components(separatedBy: "\n")
    }

    @Test func oneRankPrintsTheDumpsTotals() throws {
        let r = try runProduct("distconv", ["plan", "--graph", Self.graph, "--ranks", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stdout.contains(
                "86 tensors, 92 ops, 4,598,445,348 bytes if every tensor lived at once, 574,668,960 bytes of parameters"
            ))
        #expect(r.stdout.contains("arena/bound"))
        #expect(r.stdout.contains("conv1_1.output"))  // one rank: the buffer table too
    }

    @Test func formatsAndGrids() throws {
        let json = try runProduct(
            "distconv",
            ["plan", "--graph", Self.graph, "--ranks", "4", "--grid", "hybrid", "--format", "json", "--rank", "3"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["grid_policy"] as? String == "hybrid" && object?["ranks"] as? Int == 4)
        let svg = try runProduct("distconv", ["plan", "--graph", Self.graph, "--ranks", "2", "--format", "svg"])
        #expect(svg.status == 0 && svg.stdout.hasPrefix("<svg"))
        let help = try runProduct("distconv", ["plan", "--help"])
        #expect(help.status == 0 && help.stdout.contains("distconv plan --graph examples/vgg19.graph"))
    }

    @Test func partitionWorksOnAnImportedGraph() throws {
        let r = try runProduct(
            "distconv",
            ["partition", "--graph", Self.graph, "--ranks", "2", "--batch", "2", "--image-size", "64", "--rank", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("conv1_1.output\ndim=[ 2 64 64 64]"))
        let four = try runProduct("distconv", ["partition", "--graph", Self.graph, "--ranks", "4", "--rank", "1"])
        #expect(
            four.status == 0 && four.stdout.hasPrefix("# distconv partition: model vgg19, rank 1 of 4"),
            "\(four.stderr)")
    }

    /// Each case: a change to the dump, and the line its error must name.
    @Test func malformedDumpsExitTwoNamingTheLine() throws {
        let lines = try vggLines()
        func edited(_ line: Int, _ text: String) -> String {
            var copy = lines
            copy[line - 1] = text
            return copy.joined(separator: "\n")
        }
        let cases: [(String, String, String)] = [
            ("truncated", lines.prefix(500).joined(separator: "\n"), "line 501: the file ends here"),
            ("more ops than blocks", edited(1, "86 93"), "line 808:"),
            ("fewer ops than blocks", edited(1, "86 91"), "line 800: expected the end of the file"),
            ("input count", edited(95, "4 1"), "line 99: expected input 4 of 4"),
            ("unknown op", edited(100, "Convolution3DFunction"), "line 100: unknown op type 'Convolution3DFunction'"),
            (
                "bad JSON", edited(101, "{\"sy\": 1,, }"),
                "line 101: attributes of Convolution2DFunction: not valid JSON"
            ),
            (
                "missing attribute", edited(101, "{\"sx\": 1}"),
                "line 101: attributes of Convolution2DFunction: required field 'sy'"
            ),
            ("id out of range", edited(96, "86 _"), "line 96: tensor id 86 is out of range"),
            ("output id out of range", edited(99, "123"), "line 99: tensor id 123 is out of range"),
        ]
        for (what, text, message) in cases {
            let path = try temporaryGraph(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let r = try runProduct("distconv", ["plan", "--graph", path, "--ranks", "1"])
            #expect(r.status == 2, "\(what): exit \(r.status)")
            #expect(r.stderr.contains(message), "\(what): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(what): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(what)")
        }
    }

    @Test func badFlagsExitTwo() throws {
        let missing = try runProduct("distconv", ["plan", "--graph", "no/such.graph"])
        #expect(missing.status == 2 && missing.stderr.contains("cannot read the file"))
        let rank = try runProduct("distconv", ["plan", "--graph", Self.graph, "--ranks", "2", "--rank", "2"])
        #expect(rank.status == 2 && rank.stderr.contains("--rank 2 is out of range"))
        // A batch of 2 on 4 ranks is no error: the batch-only ops get a grid over 2 ranks,
        // replicated on the other two.
        let small = try runProduct(
            "distconv", ["plan", "--graph", Self.graph, "--ranks", "4", "--batch", "2", "--image-size", "64"])
        #expect(small.status == 0 && small.stdout.contains("[2, 1, 1, 1]"))
    }
}

/// The cost model's commands: predictions with a profile, `--auto`, `--project`, and
/// their bad input. A hand-made profile: every kind at a constant rate.
@Suite(.serialized) struct PlanPredictionCLITests {
    static let model = "examples/fashion-cnn.json"

    static func profile(_ edit: (String) -> String = { $0 }) throws -> String {
        func kernel(_ kind: String, _ input: [Int], _ output: [Int], _ window: [Int] = [], variant: String = "",
                    seconds: Double) -> String {
            "{\"kind\": \"\(kind)\", \"input\": \(input), \"output\": \(output), \"window\": \(window), \"groups\": 1, "
                + "\"block\": 1, \"variant\": \"\(variant)\", \"seconds\": \(seconds)}"
        }
        let kernels = [
            kernel("conv_forward", [1, 16, 66, 66], [1, 16, 64, 64], [3, 3, 1, 1], seconds: 1.5e-4),
            kernel("conv_backward_data", [1, 16, 66, 66], [1, 16, 64, 64], [3, 3, 1, 1], seconds: 2e-4),
            kernel("conv_backward_weights", [1, 16, 66, 66], [1, 16, 64, 64], [3, 3, 1, 1], seconds: 2.5e-4),
            kernel("elementwise_forward", [1, 16, 64, 64], [1, 16, 64, 64], variant: "relu", seconds: 2e-5),
            kernel("pool_forward", [1, 16, 64, 64], [1, 16, 32, 32], [2, 2, 2, 2], variant: "max", seconds: 3e-5),
            kernel("linear_forward", [64, 512, 1, 1], [64, 10, 1, 1], seconds: 2e-5),
            kernel("data_load", [], [64, 1, 28, 28], variant: "synthetic", seconds: 1e-5),
            kernel("data_load", [], [64, 1, 28, 28], variant: "idx", seconds: 1e-3),
        ]
        let text = """
            {"format": "distconv-profile", "version": 1, "machine": "test", "ranks_per_node": 2, "threads_per_rank": 1,
             "copy": {"alpha": 1e-6, "beta": 2e-10}, "intra_node": {"alpha": 2e-6, "beta": 2e-10},
             "inter_node": {"alpha": 5e-6, "beta": 1e-9}, "kernels": [\(kernels.joined(separator: ", "))]}
            """
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("profile-\(UUID().uuidString).json")
        try edit(text).write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func aGridWithAProfilePrintsThePrediction() throws {
        let p = try Self.profile()
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try runProduct("distconv", ["plan", "--model", Self.model, "--ranks", "2", "--grid", "spatial", "--profile", p,
                                            "--format", "json", "--data-kind", "synthetic"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let prediction = try #require(object?["prediction"] as? [String: Any], "\(r.stdout)")
        let step = try #require(prediction["step_ms"] as? Double)
        let parts = ["compute_ms", "halo_ms", "allreduce_ms", "data_ms"].compactMap { prediction[$0] as? Double }
        #expect(parts.count == 4 && step > 0 && abs(parts.reduce(0, +) - step) < 1e-9 * step)
        #expect((prediction["grids"] as? [String: [Int]])?["conv1"] == [1, 1, 2, 1])
        #expect((prediction["peak_bytes_per_rank"] as? Int ?? 0) > 0)
        // The data set's kind picks its samples: IDX files here load 100x slower.
        let idx = try runProduct("distconv", ["plan", "--model", Self.model, "--ranks", "2", "--grid", "spatial", "--profile", p,
                                              "--format", "json", "--data-kind", "idx"])
        let idxObject = try JSONSerialization.jsonObject(with: Data(idx.stdout.utf8)) as? [String: Any]
        let idxData = try #require((idxObject?["prediction"] as? [String: Any])?["data_ms"] as? Double, "\(idx.stderr)")
        let data = try #require(prediction["data_ms"] as? Double)
        #expect(data > 0 && abs(idxData / data - 100) < 1e-6, "\(idxData) against \(data)")
        // Without --data-kind a model of 1x28x28 images is priced as train reads it: IDX files.
        let plain = try runProduct("distconv", ["plan", "--model", Self.model, "--ranks", "2", "--grid", "spatial",
                                                "--profile", p, "--format", "json"])
        let plainObject = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any]
        let plainData = try #require((plainObject?["prediction"] as? [String: Any])?["data_ms"] as? Double, "\(plain.stderr)")
        #expect(plainData == idxData, "\(plainData) against \(idxData) (idx)")
        let text = try runProduct("distconv", ["plan", "--model", Self.model, "--ranks", "2", "--grid", "auto", "--profile", p])
        #expect(text.status == 0 && text.stdout.contains("predicted step on the slowest rank (profile \(p)"), "\(text.stderr)")
    }

    @Test func autoPrintsItsGridsBesideTheFixedPolicies() throws {
        let p = try Self.profile()
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try runProduct("distconv", ["plan", "--model", Self.model, "--ranks", "4", "--auto", "--profile", p,
                                            "--memory-per-rank", "64MiB"])
        #expect(r.status == 0, "\(r.stderr)")
        for policy in ["batch", "spatial", "hybrid", "auto"] {
            #expect(r.stdout.contains("\n\(policy) "), "\(policy): \(r.stdout)")
        }
        #expect(r.stdout.contains("memory limit per rank: 64 MiB") && r.stdout.contains("auto's grids:\n  data: "))
        // Auto is never predicted slower than the fastest fixed policy.
        let json = try runProduct("distconv", ["plan", "--model", Self.model, "--ranks", "4", "--auto", "--profile", p,
                                               "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let steps = ["batch", "spatial", "hybrid", "auto"].compactMap { (object[$0] as? [String: Any])?["step_ms"] as? Double }
        #expect(steps.count == 4 && steps[3] <= steps[0...2].min()!)
    }

    @Test func projectionPrintsEveryPolicyAtEveryCount() throws {
        let p = try Self.profile()
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try runProduct("distconv", ["plan", "--model", Self.model, "--project", "1,2,4", "--profile", p,
                                            "--inter-node", "2,12.5"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("1 ") || $0.hasPrefix("2 ") || $0.hasPrefix("4 ") }
        #expect(rows.count == 12, "\(r.stdout)")
        #expect(r.stdout.contains("inter-node 2.00 us + 12.50 GB/s"))
        let svg = try runProduct("distconv", ["plan", "--model", Self.model, "--project", "1,2,4", "--profile", p,
                                              "--format", "svg"])
        #expect(svg.status == 0 && svg.stdout.hasPrefix("<svg") && svg.stdout.components(separatedBy: "<polyline").count == 9)
    }

    @Test func badInputExitsTwoWithOneLine() throws {
        let p = try Self.profile()
        let bad = try Self.profile { $0.replacingOccurrences(of: "\"ranks_per_node\": 2", with: "\"ranks_per_node\": 0") }
        let negative = try Self.profile { $0.replacingOccurrences(of: "\"beta\": 1e-9", with: "\"beta\": -1") }
        defer { for f in [p, bad, negative] { try? FileManager.default.removeItem(atPath: f) } }
        let base = ["plan", "--model", Self.model, "--ranks", "2"]
        let cases: [([String], String)] = [
            (["--auto", "--profile", bad], "\(bad): ranks_per_node: is 0, must be at least 1"),
            (["--auto", "--profile", negative], "\(negative): inter_node.beta: is -1.0"),
            (["--auto", "--profile", "no/such.json"], "no/such.json: file: no such file"),
            (["--auto", "--profile", p, "--memory-per-rank", "12XB"], "--memory-per-rank is '12XB'"),
            (["--auto", "--profile", p, "--memory-per-rank", "1KiB"], "the smallest peak any grid reaches is"),
            (["--project", "1,x", "--profile", p], "--project is '1,x'; give rank counts"),
            (["--project", "4,2", "--profile", p], "rank counts must increase"),
            (["--project", "1,8192", "--profile", p], "every rank count must be from 1 to 4096"),
            (["--auto", "--profile", p, "--inter-node", "2"], "--inter-node is '2'; give ALPHA_US,GBPS"),
        ]
        for (flags, message) in cases {
            let r = try runProduct("distconv", base + flags)
            #expect(r.status == 2, "\(flags): exit \(r.status) \(r.stdout)")
            #expect(r.stderr.contains(message), "\(flags): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(flags): \(r.stderr)")
        }
        // Without --profile the built-in one (measured on the development machine) prices it.
        let builtIn = try runProduct("distconv", base + ["--auto"])
        #expect(builtIn.status == 0 && builtIn.stdout.contains("built-in profile"), "\(builtIn.stderr)")
    }
}
