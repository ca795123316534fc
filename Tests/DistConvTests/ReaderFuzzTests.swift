import DistConv
import Foundation
import Geometry
import TestSupport
import Testing

/// The bounded twin of `fuzz/run`: every reader over a few thousand mutations of its seed
/// corpus (`fuzz/corpus/<reader>/`): bit flips, interesting bytes, truncations, inserted,
/// deleted and repeated ranges, integers and numbers set to extremes, splices of two seeds.
/// Each input must parse or throw the reader's own error; a trap, an out-of-bounds read or
/// a runaway allocation ends the test process, which is the point. The seed is fixed, so a
/// failure repeats; its input is printed in base64 (`base64 -d > fuzz/corpus/...`).
@Suite struct ReaderFuzzTests {
    static let readers = ["model", "graph", "safetensors", "state", "idx", "npy"]
    static let inputsPerReader = 3000

    /// What one input did.
    enum Outcome: Equatable {
        case parsed
        case rejected
        /// A thrown error of another type than the reader's.
        case foreign(String)
    }

    @Test(arguments: readers) func mutatedInputsParseOrThrowTheReadersError(reader: String) throws {
        let seeds = try Self.corpus(reader)
        #expect(seeds.count >= 3, "fuzz/corpus/\(reader) holds \(seeds.count) files")
        for (name, bytes) in seeds {
            let outcome = Self.attempt(reader, bytes)
            let expected: Outcome = name.hasPrefix("bad-") ? .rejected : .parsed
            // Regression seeds (crash-*) only have to be survived.
            if !name.hasPrefix("crash-") { #expect(outcome == expected, "\(reader) seed \(name)") }
        }

        var random = SplitMix64(seed: UInt64(Self.readers.firstIndex(of: reader) ?? 0) &+ 0x5EED_F022)
        var counts: [String: Int] = [:]
        let inputs = seeds.map(\.bytes)
        for _ in 0..<Self.inputsPerReader {
            var input = inputs[random.below(inputs.count)]
            for _ in 0...random.below(3) { input = Mutator.mutate(input, others: inputs, &random) }
            let outcome = Self.attempt(reader, input)
            if case .foreign(let error) = outcome {
                Issue.record("\(reader): \(error) for input \(Data(input).base64EncodedString())")
            }
            counts["\(outcome)", default: 0] += 1
        }
        // Mutations that keep a file valid (a flipped pixel) and ones that break it both occur:
        // the loop reached past the first check of the format.
        #expect(counts["parsed", default: 0] > 0, "\(reader): \(counts)")
        #expect(counts["rejected", default: 0] > 0, "\(reader): \(counts)")
    }

    /// The seed files of `reader`, by name.
    static func corpus(_ reader: String) throws -> [(name: String, bytes: [UInt8])] {
        let dir = packageRoot.appendingPathComponent("fuzz/corpus/\(reader)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        return try names.map { ($0, Array(try Data(contentsOf: dir.appendingPathComponent($0)))) }
    }

    /// Runs one reader on `bytes` as `fuzz/Sources/FuzzReader.swift` does, using what parsed.
    static func attempt(_ reader: String, _ bytes: [UInt8]) -> Outcome {
        do {
            switch reader {
            case "model":
                let model = try Model(json: Data(bytes), source: "fuzz.json")
                _ = model.descriptionHash
            case "graph":
                let graph = try ChainerGraph(bytes: Data(bytes), source: "fuzz.graph")
                _ = (graph.totalBytes, graph.parameterBytes)
                let imported = try ImportedGraph(graph: graph)
                _ = (imported.tensorBytes, imported.parameterBytes)
            case "safetensors":
                let decoded = try Safetensors.decode(Data(bytes), file: "fuzz.safetensors")
                for t in decoded.tensors where t.dtype == "F32" { _ = t.floats }
            case "state":
                let state = try CheckpointState(json: Data(bytes), file: "state.json")
                guard try CheckpointState(json: state.encoded(), file: "state.json") == state else {
                    return .foreign("state.json does not survive encoded()")
                }
            case "idx":
                let (images, labels) = split(bytes)
                use(try IDXDataset(imageBytes: images, labelBytes: labels))
            case "npy":
                let (images, labels) = split(bytes)
                use(try NPYDataset(imageBytes: images, labelBytes: labels, classes: nil))
            default:
                return .foreign("no reader \(reader)")
            }
            return .parsed
        } catch let error as ModelError where reader == "model" || reader == "graph" {
            return oneLine(error)
        } catch let error as GraphError where reader == "graph" {
            return oneLine(error)
        } catch let error as CheckpointError where reader == "safetensors" || reader == "state" {
            return oneLine(error)
        } catch let error as DataError where reader == "idx" || reader == "npy" {
            return oneLine(error)
        } catch {
            return .foreign("\(type(of: error)): \(error)")
        }
    }

    /// The CLI prints a reader's error as its one line: no line break, and short enough to
    /// read (a file's contents are quoted only in part).
    static func oneLine(_ error: any Error) -> Outcome {
        let text = "\(error)"
        if text.contains(where: \.isNewline) { return .foreign("a message of several lines: \(text.debugDescription)") }
        if text.count > 600 { return .foreign("a message of \(text.count) characters: \(text.prefix(600))...") }
        return .rejected
    }

    /// The two files of an idx or npy input: a 4-byte little-endian length, then the images
    /// file, then the labels file (as `FuzzReader.split`).
    static func split(_ bytes: [UInt8]) -> (images: [UInt8], labels: [UInt8]) {
        guard bytes.count >= 4 else { return (bytes, []) }
        let n = (0..<4).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let end = 4 + min(n, bytes.count - 4)
        return (Array(bytes[4..<end]), Array(bytes[end...]))
    }

    /// Loads the first and last image and every label, as training would.
    static func use(_ data: any ImageDataset) {
        let volume = data.imageShape.reduce(1, *)
        guard volume <= 1 << 20 else { return }
        var out = [Float](repeating: 0, count: volume)
        for sample in Set([0, data.count - 1]) {
            out.withUnsafeMutableBufferPointer {
                data.loadImages(samples: [sample], region: Rect(shape: [1] + data.imageShape), into: $0)
            }
        }
        for i in 0..<data.count where !(0..<data.classes).contains(data.label(i)) {
            Issue.record("\(data.name): label \(data.label(i)) of sample \(i) outside \(data.classes) classes")
        }
    }

    // Inputs that crashed a reader before its fix, each with the one line it gives now.

    @Test func safetensorsShapeWhoseByteCountOverflowsIsRefused() throws {
        // [2^62, 4] of U8 wraps to 0 bytes, which the empty data_offsets matched.
        let header = #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#
        var bytes = Data((0..<8).map { UInt8(truncatingIfNeeded: header.utf8.count >> (8 * $0)) })
        bytes.append(Data(header.utf8))
        #expect(throws: CheckpointError(file: "f", tensor: "t", "shape [4611686018427387904, 4] of F32 needs more bytes than a file can hold, data_offsets give 0")) {
            try Safetensors.decode(bytes, file: "f")
        }
        // A slice of a larger Data reads as its own bytes.
        let file = Safetensors.encode([.init(name: "w", shape: [2], floats: [1, 2])])
        let slice = (Data([9, 9, 9]) + file).dropFirst(3)
        #expect(try Safetensors.decode(slice, file: "f").tensors.first?.floats == [1, 2])
    }

    @Test func modelSizesPastTheLimitsAreFieldErrors() throws {
        func problem(_ op: String) -> String? {
            let json = """
                {"name": "m", "ops": [{"name": "data", "type": "data", "shape": [2, 1, 8, 8], "classes": 2}, \(op)]}
                """
            do {
                _ = try Model(json: Data(json.utf8), source: "m.json")
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(#"{"name": "c", "type": "conv2d", "out_channels": 2, "kernel": [3], "padding": [9223372036854775807]}"#)
                == "m.json: op 'c': field 'padding': [9223372036854775807] has an entry above 2^20")
        #expect(problem(#"{"name": "c", "type": "conv2d", "out_channels": 2, "kernel": [3], "dilation": [4611686018427387904, 1]}"#)
                == "m.json: op 'c': field 'dilation': [4611686018427387904, 1] has an entry above 2^20")
        #expect(problem(#"{"name": "l", "type": "linear", "out_features": 4611686018427387904}"#)
                == "m.json: op 'l': tensor 'l.W' of shape [4611686018427387904, 1, 8, 8] has more than 2^58 elements")
        #expect(problem(#"{"name": "r", "type": "relu", "grid": [1048576, 1048576, 1048576, 1048576]}"#)
                == "m.json: op 'r': field 'grid': [1048576, 1048576, 1048576, 1048576] spans more than 2^20 ranks")
    }

    @Test func graphAttributesPastTheLimitsNameTheLine() throws {
        let text = String(decoding: try Self.corpus("graph").first { $0.name == "conv-pool-linear.graph" }!.bytes, as: UTF8.self)
        let huge = text.replacingOccurrences(of: #""ph": 1, "pw": 1, "dy": 1"#, with: #""ph": 4611686018427387904, "pw": 1, "dy": 1"#)
        #expect(throws: GraphError(file: "g", line: 31, "attributes of Convolution2DFunction: ph is 4611686018427387904, expected 0 to 2^20")) {
            try ChainerGraph(text: huge, source: "g")
        }
        // Windows line ends read as lines (a CRLF file used to be one line).
        let crlf = try ChainerGraph(text: text.replacingOccurrences(of: "\n", with: "\r\n"), source: "g")
        #expect(crlf.ops == (try ChainerGraph(text: text, source: "g")).ops)
    }

    @Test func npyLabelsImplyingTooManyClassesAreRefused() throws {
        let seed = try Self.corpus("npy").first { $0.name == "f4-nchw-i8.pair" }!.bytes
        var (images, labels) = Self.split(seed)
        // The last label (int64 little-endian) becomes Int64.max: largest + 1 overflowed.
        labels.replaceSubrange((labels.count - 8)..., with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: DataError(file: "labels.npy", field: "labels", "label 9223372036854775807 is not below 1048576, the most classes read")) {
            try NPYDataset(imageBytes: images, labelBytes: labels, classes: nil)
        }
        images = []
        #expect(throws: DataError(file: "images.npy", field: "magic", "not a NumPy .npy file (no \\x93NUMPY at the start)")) {
            try NPYDataset(imageBytes: images, labelBytes: labels, classes: 10)
        }
    }

    @Test func inputsTooLargeForTheFuzzersStillParseOrThrow() throws {
        // 100000 nested arrays: the JSON parsers must refuse them, not overflow the stack.
        let nested = String(repeating: "[", count: 100_000)
        #expect(Self.attempt("model", Array(#"{"name": "m", "ops": \#(nested)"#.utf8)) == .rejected)
        #expect(Self.attempt("state", Array(nested.utf8)) == .rejected)
        var header = Data((0..<8).map { UInt8(truncatingIfNeeded: nested.utf8.count >> (8 * $0)) })
        header.append(Data(nested.utf8))
        #expect(Self.attempt("safetensors", Array(header)) == .rejected)
        let graph = "1 1\n0 4 _\nforward\n1 1\n0 _\n0\nReLU\n\(nested)\n"
        #expect(Self.attempt("graph", Array(graph.utf8)) == .rejected)
        // 9000 tensors of 2^50 bytes would overflow the dump's total.
        let many = "9000 0\n" + (0..<9000).map { "\($0) 1125899906842624 _\n" }.joined()
        #expect(throws: GraphError(file: "g", line: 66, "the tensors up to this one hold \(65 << 50) bytes, more than 2^56")) {
            try ChainerGraph(text: many, source: "g")
        }
        // A file's text quoted in a message stays on one line and is cut.
        let type = String(repeating: #"x\r\u007f"#, count: 400)  // JSON escapes: x, CR, DEL
        let json = #"{"name": "m", "ops": [{"name": "d", "type": "\#(type)"}]}"#
        #expect(Self.attempt("model", Array(json.utf8)) == .rejected)
        let message = #"m.json: op 'd': field 'type': unknown op type 'x\r\u{7F}x\r\u{7F}"#
        do {
            _ = try Model(json: Data(json.utf8), source: "m.json")
            Issue.record("\(type) read as an op type")
        } catch {
            let line = "\(error)"
            #expect(line.hasPrefix(message) && line.hasSuffix("more characters)") && line.count <= 530, "\(line)")
        }
    }

    @Test func aGraphResizedPastAnyMachineIsAnError() throws {
        // `plan --graph vgg19 --batch 1048576 --image-size 65536` overflowed adding up bytes.
        #expect(throws: ModelError(file: GraphFixtures.vggPath, op: "data", field: "shape",
                                   "at batch 1048576 and image size 65536 the tensors hold more than 2^60 bytes")) {
            try GraphFixtures.vgg(GraphImportOptions(batch: 1 << 20, imageSize: 1 << 16))
        }
    }

    @Test func stateCountersOutsideAnyRunAreRefused() throws {
        let seed = try Self.corpus("state").first { $0.name == "state.json" }!.bytes
        let text = String(decoding: seed, as: UTF8.self).replacingOccurrences(of: #""epoch": 1"#, with: #""epoch": 9223372036854775807"#)
        #expect(throws: CheckpointError(file: "state.json", "field 'epoch' is 9223372036854775807, expected 0 to 2^48")) {
            try CheckpointState(json: Data(text.utf8), file: "state.json")
        }
    }
}

extension SplitMix64 {
    /// Uniform in `0..<n` (n >= 1; the modulo bias is irrelevant here).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}

/// The mutations libFuzzer would try first, as plain functions of a seeded generator.
enum Mutator {
    static let interestingBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x22, 0x2C, 0x2D, 0x30, 0x39, 0x7B, 0x7D]
    static let extremes: [UInt64] = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                     1 << 32, 1 << 48, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max]
    static let extremeNumbers = ["0", "-1", "1", "2147483648", "4294967295", "4294967296", "281474976710656",
                                 "9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e308",
                                 "-1e308", "0.5", "1048577"]

    static func mutate(_ input: [UInt8], others: [[UInt8]], _ random: inout SplitMix64) -> [UInt8] {
        var b = input
        let at = random.below(b.count + 1)
        switch random.below(9) {
        case 0 where !b.isEmpty:  // flip a bit
            b[min(at, b.count - 1)] ^= 1 << UInt8(random.below(8))
        case 1 where !b.isEmpty:  // an interesting byte
            b[min(at, b.count - 1)] = interestingBytes[random.below(interestingBytes.count)]
        case 2:  // truncate
            b.removeSubrange(at...)
        case 3:  // insert random bytes
            b.insert(contentsOf: (0...random.below(8)).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: at)
        case 4:  // delete a range
            b.removeSubrange(at..<min(b.count, at + 1 + random.below(16)))
        case 5:  // repeat a range
            let range = at..<min(b.count, at + 1 + random.below(64))
            b.insert(contentsOf: b[range], at: range.upperBound)
        case 6:  // an integer field (1, 2, 4 or 8 bytes, either byte order) set to an extreme
            let width = 1 << random.below(4)
            guard b.count >= width else { break }
            let start = min(at, b.count - width)
            let value = extremes[random.below(extremes.count)]
            let bytes = (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
            b.replaceSubrange(start..<(start + width), with: random.below(2) == 0 ? bytes : bytes.reversed())
        case 7:  // a decimal number in text set to an extreme
            let digits = b.indices.filter { b[$0] >= 0x30 && b[$0] <= 0x39 }
            guard !digits.isEmpty else { break }
            var start = digits[random.below(digits.count)], end = start + 1
            while start > 0, (0x30...0x39).contains(b[start - 1]) || b[start - 1] == 0x2D { start -= 1 }
            while end < b.count, (0x30...0x39).contains(b[end]) { end += 1 }
            b.replaceSubrange(start..<end, with: Array(extremeNumbers[random.below(extremeNumbers.count)].utf8))
        default:  // splice: this input's head, another's tail
            let other = others[random.below(others.count)]
            b = Array(b[..<at]) + other[random.below(other.count + 1)...]
        }
        return b
    }
}
