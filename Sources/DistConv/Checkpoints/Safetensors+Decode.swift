import Foundation

extension Safetensors {
    /// Reads a safetensors file: its tensors in file order and its metadata. Every
    /// malformation is a `CheckpointError` naming `file` (and the tensor), never a trap:
    /// a header length past the file, a header that is not JSON or not an object of
    /// tensor entries, an unknown dtype, offsets outside the data or disagreeing with
    /// the shape.
    public static func decode(_ bytes: Data, file: String) throws(CheckpointError)
        -> (tensors: [Tensor], metadata: [String: String])
    {
        // Offsets below count from 0; a slice of a larger Data starts elsewhere.
        let data = bytes.startIndex == 0 ? bytes : Data(bytes)
        guard data.count >= 8 else { throw CheckpointError(file: file, "\(data.count) bytes: shorter than the 8-byte header length") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(data.count - 8) else {
            throw CheckpointError(file: file, "header length \(n) runs past the end of the \(data.count)-byte file (truncated?)")
        }
        let headerEnd = 8 + Int(n)
        let header = data.subdata(in: 8..<headerEnd)
        guard let object = try? JSONSerialization.jsonObject(with: header), let entries = object as? [String: Any] else {
            throw CheckpointError(file: file, "header is not a JSON object")
        }
        let body = data.count - headerEnd
        var metadata: [String: String] = [:]
        var tensors: [(Int, Tensor)] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw CheckpointError(file: file, "__metadata__ is not an object") }
                for (k, v) in m { metadata[k] = (v as? String) ?? "\(v)" }
                continue
            }
            guard let e = value as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = e["shape"] as? [Int], let offsets = e["data_offsets"] as? [Int], offsets.count == 2
            else { throw CheckpointError(file: file, tensor: name, "entry needs dtype, shape and two data_offsets") }
            guard let size = elementSize(dtype) else { throw CheckpointError(file: file, tensor: name, "unknown dtype '\(dtype)'") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw CheckpointError(file: file, tensor: name, "negative shape \(shape)") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= body else {
                throw CheckpointError(file: file, tensor: name, "data_offsets [\(begin), \(end)] outside the \(body) data bytes")
            }
            // A product that overflows can wrap to the byte count given: it must not pass.
            var needed: Int? = size
            for d in shape {
                guard let n = needed else { break }
                let (product, overflow) = n.multipliedReportingOverflow(by: d)
                needed = overflow ? nil : product
            }
            guard let needed, needed == end - begin else {
                let bytes = needed.map { "\($0) bytes" } ?? "more bytes than a file can hold"
                throw CheckpointError(file: file, tensor: name, "shape \(shape) of \(dtype) needs \(bytes), data_offsets give \(end - begin)")
            }
            tensors.append((begin, Tensor(name: name, dtype: dtype, shape: shape,
                                          bytes: data.subdata(in: (headerEnd + begin)..<(headerEnd + end)))))
        }
        return (tensors.sorted { ($0.0, $0.1.name) < ($1.0, $1.1.name) }.map(\.1), metadata)
    }

    /// Reads and decodes the file at `path`.
    public static func read(path: String) throws(CheckpointError) -> (tensors: [Tensor], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError(file: path, "cannot read the file")
        }
        return try decode(data, file: path)
    }
}
