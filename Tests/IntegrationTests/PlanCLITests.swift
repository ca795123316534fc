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
