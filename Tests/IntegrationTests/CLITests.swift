import Foundation
import Testing
import TestSupport

/// Writes `text` to a fresh temporary file and returns its path.
func temporaryFile(_ text: String, name: String = "model.json") throws -> String {
    let dir = URL(fileURLWithPath: TemporaryFolders.make("file"))
    let url = dir.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

/// Runs `distconv args` and checks the user-error contract: exit code 2, one line on
/// stderr holding every fragment, nothing that looks like a stack trace.
func expectUsageError(_ args: [String], _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let result = try runProduct("distconv", args)
    #expect(result.status == 2, "exit \(result.status) for \(args); stderr: \(result.stderr)", sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "stderr should be one line: \(result.stderr)", sourceLocation: sourceLocation)
    for f in fragments { #expect(result.stderr.contains(f), "missing '\(f)' in: \(result.stderr)", sourceLocation: sourceLocation) }
    #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("0x0"), sourceLocation: sourceLocation)
}

let smallData = #"{"name": "data", "type": "data", "shape": [8, 3, 16, 16], "classes": 10, "grid": [1, 1, 2, 2]}"#

@Suite(.serialized) struct PartitionCLITests {
    @Test func printsTheReferenceRankInTheDumpsFormat() throws {
        let r = try runProduct("distconv", ["partition", "--model", "examples/seed-tiled.json", "--ranks", "4", "--rank", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("L0.filterNL.output\ndim=[256 16 64 64]\nread_rect=Rect(array([ 0, 0, 28, 0], dtype=int32), array([256, 16, 36, 36], dtype=int32))"))
        let json = try runProduct("distconv", ["partition", "--model", "examples/seed-tiled.json", "--ranks", "4", "--rank", "1", "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["tensors"] as? [String: Any])?["L1.W"] != nil)
        let svg = try runProduct("distconv", ["partition", "--model", "examples/fashion-cnn.json", "--ranks", "4", "--format", "svg"])
        #expect(svg.status == 0 && svg.stdout.hasPrefix("<svg") && svg.stdout.contains("conv1.output"))
    }

    @Test func malformedJSON() throws {
        let path = try temporaryFile(#"{"name": "m", "ops": [ {"name": "data", "#)
        try expectUsageError(["partition", "--model", path, "--ranks", "1"], [path, "malformed"])
    }

    @Test func missingFile() throws {
        try expectUsageError(["partition", "--model", "/nonexistent/m.json", "--ranks", "1"], ["/nonexistent/m.json", "cannot read"])
    }

    @Test func unknownOp() throws {
        let path = try temporaryFile(#"{"name": "m", "ops": [\#(smallData), {"name": "c1", "type": "convolution"}]}"#)
        try expectUsageError(["partition", "--model", path, "--ranks", "4"], [path, "op 'c1'", "type", "unknown op type 'convolution'"])
    }

    @Test func gridProductIsNotRanks() throws {
        try expectUsageError(["partition", "--model", "examples/seed-tiled.json", "--ranks", "2"],
                             ["examples/seed-tiled.json", "op 'data'", "grid", "spans 4 ranks", "has 2"])
    }

    @Test func rankOutOfRange() throws {
        try expectUsageError(["partition", "--model", "examples/seed-tiled.json", "--ranks", "4", "--rank", "4"], ["--rank 4", "out of range"])
    }

    @Test func gridFinerThanTheTensor() throws {
        let path = try temporaryFile(#"{"name": "m", "ops": [\#(smallData), {"name": "p", "type": "max_pool", "kernel": [8, 8], "grid": [1, 1, 1, 4]}]}"#)
        try expectUsageError(["partition", "--model", path, "--ranks", "4"], [path, "op 'p'", "grid", "finer than the tensor"])
    }

    @Test func kernelLargerThanPaddedInput() throws {
        let path = try temporaryFile(#"{"name": "m", "ops": [\#(smallData), {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": [19, 19], "padding": [1, 1]}]}"#)
        try expectUsageError(["partition", "--model", path, "--ranks", "4"], [path, "op 'c'", "kernel", "larger than the padded 16x16 input"])
    }

    @Test func helpShowsAnExampleAndExitsZero() throws {
        let r = try runProduct("distconv", ["partition", "--help"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("distconv partition --model examples/seed-tiled.json --ranks 4 --rank 1"))
    }

    @Test func unknownFlag() throws {
        try expectUsageError(["partition", "--model", "examples/seed-tiled.json", "--rnaks", "4"], ["--rnaks"])
    }
}
