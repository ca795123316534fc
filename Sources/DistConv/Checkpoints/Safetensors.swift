import Foundation

/// The safetensors format (Hugging Face), written and read here by its spec, no Python:
/// an 8-byte little-endian header length N, N bytes of JSON
/// `{"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
///   "__metadata__": {"<key>": "<value>"}}` padded with spaces to a multiple of 8, then
/// the tensors' raw little-endian bytes, offsets relative to the end of the header.
public enum Safetensors {
    /// One tensor to write or one that was read.
    public struct Tensor: Sendable, Equatable {
        public var name: String
        /// `F32`, `F64`, `I64`, `I32`, `U8`.
        public var dtype: String
        public var shape: [Int]
        public var bytes: Data

        public init(name: String, dtype: String, shape: [Int], bytes: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(name: String, shape: [Int], floats: [Float]) {
            self.init(name: name, dtype: "F32", shape: shape,
                      bytes: floats.withUnsafeBufferPointer { Data(buffer: $0) })
        }

        /// The values of an F32 tensor.
        public var floats: [Float] {
            bytes.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
        }
    }

    public static func elementSize(_ dtype: String) -> Int? {
        ["F32": 4, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "BOOL": 1][dtype]
    }

    /// The file's bytes: header and data, tensors in the order given.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = [:]) -> Data {
        var entries: [String] = []
        var offset = 0
        for t in tensors {
            let end = offset + t.bytes.count
            entries.append("\(quoted(t.name)):{\"dtype\":\(quoted(t.dtype)),\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(quoted($0)):\(quoted(metadata[$0] ?? ""))" }
            entries.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
        }
        var header = Data("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data()
        var n = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(header)
        for t in tensors { out.append(t.bytes) }
        return out
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
