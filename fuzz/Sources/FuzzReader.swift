import DistConv
import Foundation
import Geometry

/// The readers a fuzz run can aim at, and what one input does to each: parse the bytes,
/// accept the reader's own typed error, and use what parsed (every accessor a caller would
/// touch), so that a reader that accepts a file it cannot serve fails here and not in a
/// training run. Anything else (a trap, an out-of-bounds read, another error type) ends the
/// process: libFuzzer reports it as a crash and writes the input out.
enum FuzzReader: String, CaseIterable {
    case model, graph, safetensors, state, idx, npy

    func run(_ bytes: [UInt8]) {
        switch self {
        case .model: model(bytes)
        case .graph: graph(bytes)
        case .safetensors: safetensors(bytes)
        case .state: state(bytes)
        case .idx: idx(bytes)
        case .npy: npy(bytes)
        }
    }

    private func model(_ bytes: [UInt8]) {
        do {
            let file = try ModelFile(json: Data(bytes), source: "fuzz.json")
            let model = try Model(file: file, source: "fuzz.json")
            _ = model.descriptionHash
            _ = file.gridsSpan(ranks: 4)
        } catch let error as ModelError {
            Self.checkOneLine(error)
        } catch {
            fatalError("model: not a ModelError: \(error)")
        }
    }

    private func graph(_ bytes: [UInt8]) {
        do {
            let graph = try ChainerGraph(bytes: Data(bytes), source: "fuzz.graph")
            _ = (graph.totalBytes, graph.parameterBytes, graph.forwardOps.count, graph.backwardOps.count)
            let imported = try ImportedGraph(graph: graph)
            _ = (imported.tensorBytes, imported.parameterBytes, imported.model.descriptionHash)
        } catch let error as GraphError {
            Self.checkOneLine(error)
        } catch let error as ModelError {
            Self.checkOneLine(error)
        } catch {
            fatalError("graph: not a GraphError or ModelError: \(error)")
        }
    }

    private func safetensors(_ bytes: [UInt8]) {
        do {
            let decoded = try Safetensors.decode(Data(bytes), file: "fuzz.safetensors")
            for t in decoded.tensors where t.dtype == "F32" { _ = t.floats.count }
        } catch {
            Self.checkOneLine(error)
        }
    }

    private func state(_ bytes: [UInt8]) {
        let state: CheckpointState
        do { state = try CheckpointState(json: Data(bytes), file: "state.json") } catch { return Self.checkOneLine(error) }
        // What the writer makes of an accepted state, the reader must take back unchanged.
        guard let again = try? CheckpointState(json: state.encoded(), file: "state.json"), again == state else {
            fatalError("state: \(state) does not survive encoded()")
        }
    }

    private func idx(_ bytes: [UInt8]) {
        let (images, labels) = Self.split(bytes)
        do { Self.use(try IDXDataset(imageBytes: images, labelBytes: labels)) } catch { Self.checkOneLine(error) }
    }

    private func npy(_ bytes: [UInt8]) {
        let (images, labels) = Self.split(bytes)
        do {
            Self.use(try NPYDataset(imageBytes: images, labelBytes: labels, classes: nil))
        } catch {
            Self.checkOneLine(error)
        }
    }

    /// The CLI prints a reader's error as its one line: no line break, and short.
    static func checkOneLine(_ error: some Error) {
        let text = "\(error)"
        precondition(!text.contains(where: \.isNewline), "a message of several lines: \(text.debugDescription)")
        precondition(text.count <= 600, "a message of \(text.count) characters: \(text.prefix(600))")
    }

    /// Two files in one input: a 4-byte little-endian length, the first file (images), the
    /// second (labels). A length past the end gives all the rest to the first.
    static func split(_ bytes: [UInt8]) -> (images: [UInt8], labels: [UInt8]) {
        guard bytes.count >= 4 else { return (bytes, []) }
        let n = (0..<4).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let end = 4 + min(n, bytes.count - 4)
        return (Array(bytes[4..<end]), Array(bytes[end...]))
    }

    /// Loads the first and the last image whole and every label, as training would.
    static func use(_ data: any ImageDataset) {
        precondition(data.count >= 1 && data.imageShape.count == 3 && data.classes >= 1, "\(data.name): \(data.count) \(data.imageShape) \(data.classes)")
        // Big images parse (the file holds them) but are not worth loading twice per input.
        let volume = data.imageShape.reduce(1, *)
        guard volume <= 1 << 20 else { return }
        var out = [Float](repeating: 0, count: volume)
        for sample in Set([0, data.count - 1]) {
            out.withUnsafeMutableBufferPointer {
                data.loadImages(samples: [sample], region: Rect(shape: [1] + data.imageShape), into: $0)
            }
        }
        for i in 0..<data.count {
            let label = data.label(i)
            precondition(label >= 0 && label < data.classes, "\(data.name): label \(label) of sample \(i)")
        }
    }
}
