import DistConv
import Foundation
import Testing

/// A one-op-on-top-of-data model, to provoke one error at a time.
func model(_ ops: String, data: String = #"{"name": "data", "type": "data", "shape": [8, 3, 16, 16], "classes": 10, "grid": [1, 1, 2, 2]}"#) throws -> Model {
    try Model(json: Data(#"{"name": "m", "ops": [\#(data), \#(ops)]}"#.utf8), source: "m.json")
}

func expectError(_ fragment: [String], field: String? = nil, op: String? = nil, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("no error; expected one mentioning \(fragment)", sourceLocation: sourceLocation)
    } catch let e as ModelError {
        #expect(!e.description.contains("\n"), sourceLocation: sourceLocation)
        #expect(e.description.hasPrefix("m.json"), sourceLocation: sourceLocation)
        for f in fragment { #expect(e.description.contains(f), "\(e.description)", sourceLocation: sourceLocation) }
        if let field { #expect(e.field == field, "\(e)", sourceLocation: sourceLocation) }
        if let op { #expect(e.op == op, "\(e)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct ModelErrorTests {
    @Test func malformedJSON() {
        expectError(["malformed"]) { _ = try Model(json: Data("{\"name\": \"m\", \"ops\": [".utf8), source: "m.json") }
        expectError(["ops"]) { _ = try Model(json: Data("{\"name\": \"m\"}".utf8), source: "m.json") }
    }

    @Test func unknownOp() {
        expectError(["unknown op type 'convolution'"], field: "type", op: "c") {
            _ = try model(#"{"name": "c", "type": "convolution"}"#)
        }
    }

    @Test func kernelLargerThanPaddedInput() {
        expectError(["17x17 kernel", "16x16 input"], field: "kernel", op: "c") {
            _ = try model(#"{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": [17, 17]}"#)
        }
        // Padding makes it fit.
        #expect(throws: Never.self) { _ = try model(#"{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": [17, 17], "padding": [1, 1]}"#) }
    }

    @Test func groupsMustDivideChannels() {
        expectError(["2 groups", "3 input"], field: "groups", op: "c") {
            _ = try model(#"{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": [3, 3], "groups": 2}"#)
        }
    }

    @Test func gridMustSpanTheRanks() throws {
        let m = try model(#"{"name": "r", "type": "relu"}"#)
        expectError(["spans 4 ranks", "has 2"], field: "grid", op: "data") { _ = try Partition(model: m, ranks: 2) }
    }

    @Test func gridFinerThanTheTensor() throws {
        let m = try model(#"{"name": "p", "type": "max_pool", "kernel": [8, 8]}, {"name": "q", "type": "relu", "grid": [1, 1, 4, 1]}"#)
        expectError(["finer than the tensor"], field: "grid", op: "q") { _ = try Partition(model: m, ranks: 4) }
    }

    @Test func lossSplitsOnlyTheBatch() throws {
        let m = try model(#"{"name": "fc", "type": "linear", "out_features": 10}, {"name": "loss", "type": "softmax_cross_entropy"}"#)
        expectError(["splits H", "only the batch"], field: "grid", op: "loss") { _ = try Partition(model: m, ranks: 4) }
    }

    @Test func tiledLayerBlocksHoldWholeTiles() throws {
        // 3 tiles of 4 rows cannot be split into 2 blocks of whole tiles.
        let m = try model(#"{"name": "lc", "type": "locally_connected", "out_channels": 2, "kernel": [6, 6], "tile_stride": 5, "tile_size": [4, 4]}"#)
        expectError(["cuts through a tile"], field: "grid", op: "lc") { _ = try Partition(model: m, ranks: 4) }
    }

    @Test func versionMismatchIsActionable() {
        expectError(["version 1"], field: "version") {
            _ = try Model(json: Data(#"{"format": "distconv-model", "version": 7, "name": "m", "ops": []}"#.utf8), source: "m.json")
        }
    }
}
