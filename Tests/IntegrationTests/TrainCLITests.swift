import Foundation
import Testing
import TestSupport

/// Mistakes a user can make with `train`: each ends the whole job with exit code 2 and
/// one line on stderr (from one rank) naming the file or flag, before anything is
/// allocated or sent; never a hang or a stack trace.
@Suite(.serialized) struct TrainCLITests {
    static func failing(_ flags: [String], ranks: Int = 2) throws -> String {
        let r = try runMPI(ranks: ranks, "distconv", ["train", "--steps", "1"] + flags, timeout: 120)
        #expect(r.status == 2, "\(flags): exit \(r.status)\n\(r.stdout)\n\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("distconv: error: ") }
        #expect(lines.count == 1, "\(flags): \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "\(r.stderr)")
        return lines.first.map(String.init) ?? ""
    }

    static func temporary(_ name: String) -> String {
        let dir = URL(fileURLWithPath: TemporaryFolders.make("train-cli"))
        return dir.appendingPathComponent(name).path
    }

    @Test func aMissingDataSetNamesItsFile() throws {
        let line = try Self.failing(["--data", "/no/such/dir"])
        #expect(line.contains("/no/such/dir/train-images-idx3-ubyte"), "\(line)")
    }

    @Test func aTruncatedDataFileNamesItsFile() throws {
        let dir = Self.temporary("idx")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A header promising 60000 28x28 images, then 10 bytes of them.
        var header: [UInt8] = [0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]
        header += Array(repeating: 0, count: 10)
        FileManager.default.createFile(atPath: dir + "/train-images-idx3-ubyte", contents: Data(header))
        let labels = Data([0, 0, 8, 1, 0, 0, 0xEA, 0x60] + Array(repeating: 0, count: 60000))
        for name in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"] {
            FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: labels)
        }
        FileManager.default.createFile(atPath: dir + "/t10k-images-idx3-ubyte", contents: Data(header))
        let line = try Self.failing(["--data", dir])
        #expect(line.contains("train-images-idx3-ubyte") && line.contains("header"), "\(line)")
    }

    @Test func labelsThatDoNotMatchTheImages() throws {
        let images = Self.temporary("images.npy"), labels = Self.temporary("labels.npy")
        Fixtures.npy(images, descr: "|u1", shape: [20, 28, 28], body: Data(count: 20 * 28 * 28))
        Fixtures.npy(labels, descr: "<i8", shape: [19], body: Data(count: 19 * 8))
        let line = try Self.failing(["--data-npy", images, labels, "--batch", "4"])
        #expect(line.contains("labels") && line.contains("19") && line.contains("20"), "\(line)")
    }

    @Test func badFlags() throws {
        #expect(try Self.failing(["--optimizer", "nesterov"]).contains("--optimizer"))
        #expect(try Self.failing(["--batch", "0"]).contains("--batch is 0"))
        #expect(try Self.failing(["--batch", "100000"]).contains("larger than the 60000 training samples")
            || !FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"))
        #expect(try Self.failing(["--schedule", "linear"]).contains("--schedule is 'linear'"))
        #expect(try Self.failing(["--lr", "-1"]).contains("--lr"))
        #expect(try Self.failing(["--model", "/no/such/model.json"]).contains("/no/such/model.json: cannot read the file"))
    }

    /// A model that `partition` accepts but no machine holds: the planned bytes, the
    /// available bytes and the largest buffer, before any allocation.
    @Test func aModelLargerThanTheMachine() throws {
        let path = Self.temporary("huge.json")
        let text = try String(contentsOf: packageRoot.appendingPathComponent("examples/fashion-cnn.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"out_channels\": 16", with: "\"out_channels\": 4000000000000")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let line = try Self.failing(["--model", path])
        #expect(line.contains("field 'memory'") && line.contains("bytes available") && line.contains("largest buffer conv1"),
                "\(line)")
    }
}
