import Foundation
import Geometry

extension Partition {
    /// Tensors and ops in dump order for one rank: each op after the tensors it is the
    /// first to read, and followed by the tensors it is the first to write.
    public func dumpOrder() -> [DumpEntry] {
        var listed = Set<String>()
        var entries: [DumpEntry] = []
        func list(_ name: String) {
            guard hasTensor(name), listed.insert(name).inserted else { return }
            entries.append(.tensor(tensor(name)))
        }
        for op in ops {
            op.reads.forEach { list($0.tensor) }
            entries.append(.op(op))
            op.writes.forEach { list($0.tensor) }
        }
        for t in tensors where !listed.contains(t.name) { entries.append(.tensor(t)) }
        return entries
    }

    /// The reference dump's text for one rank: a tensor's name then `dim=`, `read_rect=`,
    /// `write_rect=` (or `None`); an op's name then `result_dim=`, `dist_input=`,
    /// `dist_filters=` (where it has them) and `dist_result=`. Entries are separated by
    /// blank lines.
    public func text(rank r: Int) -> String {
        var out = "# distconv partition: model \(model.name), rank \(r) of \(ranks)\n"
        for entry in dumpOrder() {
            out += "\n"
            switch entry {
            case .tensor(let t):
                out += "\(t.name)\ndim=\(numpyArrayStr(t.dim))\n"
                out += "read_rect=\(t.read[r].map(\.description) ?? "None")\n"
                out += "write_rect=\(t.write[r].map(\.description) ?? "None")\n"
            case .op(let o):
                out += "\(o.name)\nresult_dim=\(numpyArrayStr(o.resultDim))\n"
                if let i = o.distInput { out += "dist_input=\(i[r])\n" }
                if let f = o.distFilters { out += "dist_filters=\(f[r])\n" }
                out += "dist_result=\(o.distResult[r])\n"
            }
        }
        return out
    }

    /// The same facts as JSON: `{"tensors": {NAME: {"dim", "read_rect", "write_rect"}},
    /// "ops": {NAME: {"result_dim", "dist_input", "dist_filters", "dist_result"}}}`, a rect as
    /// `{"origin": [...], "size": [...]}` or null; absent fields where an op has no such input.
    public func json(rank r: Int) -> String {
        func rect(_ x: Rect?) -> String {
            guard let x else { return "null" }
            return "{\"origin\": \(list(x.origin)), \"size\": \(list(x.size))}"
        }
        func list(_ v: [Int]) -> String { "[" + v.map(String.init).joined(separator: ", ") + "]" }
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var tensorLines: [String] = []
        var opLines: [String] = []
        for entry in dumpOrder() {
            switch entry {
            case .tensor(let t):
                tensorLines.append("    \(quoted(t.name)): {\"dim\": \(list(t.dim)), \"read_rect\": \(rect(t.read[r])), \"write_rect\": \(rect(t.write[r]))}")
            case .op(let o):
                var fields = ["\"result_dim\": \(list(o.resultDim))"]
                if let i = o.distInput { fields.append("\"dist_input\": \(rect(i[r]))") }
                if let f = o.distFilters { fields.append("\"dist_filters\": \(rect(f[r]))") }
                fields.append("\"dist_result\": \(rect(o.distResult[r]))")
                opLines.append("    \(quoted(o.name)): {" + fields.joined(separator: ", ") + "}")
            }
        }
        return "{\n  \"model\": \(quoted(model.name)), \"rank\": \(r), \"ranks\": \(ranks),\n"
            + "  \"tensors\": {\n" + tensorLines.joined(separator: ",\n") + "\n  },\n"
            + "  \"ops\": {\n" + opLines.joined(separator: ",\n") + "\n  }\n}\n"
    }
}

public enum DumpEntry: Sendable {
    case tensor(TensorPartition)
    case op(OpPartition)
}
