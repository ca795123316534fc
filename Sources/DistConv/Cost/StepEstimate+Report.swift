import Foundation

/// A prediction as the `plan` command prints it: the JSON object the validation
/// benchmark reads (`"prediction"`), and a line of text.
extension StepEstimate {
    public struct Document: Codable, Equatable, Sendable {
        public struct Op: Codable, Equatable, Sendable {
            public var op: String
            public var grid: [Int]
            public var computeMs: Double
            public var haloMs: Double
            public var allreduceMs: Double
            public var dataMs: Double
        }

        public var stepMs: Double
        public var computeMs: Double
        public var haloMs: Double
        public var allreduceMs: Double
        public var dataMs: Double
        public var peakBytesPerRank: Int
        /// Op name -> grid, every op of the model (the data op included).
        public var grids: [String: [Int]]
        public var ops: [Op]
        public var profile: String?
    }

    /// The document of this estimate for `model` (whose grids it was made on).
    public func document(model: Model, profile: String? = nil) -> Document {
        document(grids: Dictionary(uniqueKeysWithValues: model.ops.map { ($0.name, $0.grid) }), profile: profile)
    }

    public func document(grids: [String: [Int]], profile: String? = nil) -> Document {
        Document(
            stepMs: seconds * 1e3, computeMs: compute * 1e3, haloMs: halo * 1e3, allreduceMs: allreduce * 1e3,
            dataMs: data * 1e3, peakBytesPerRank: peakBytesPerRank,
            grids: grids,
            ops: ops.map { .init(op: $0.op, grid: $0.grid, computeMs: $0.compute * 1e3, haloMs: $0.halo * 1e3,
                                 allreduceMs: $0.allreduce * 1e3, dataMs: $0.data * 1e3) },
            profile: profile)
    }

    /// JSON (snake_case keys, sorted) of `value`, pretty-printed, no trailing newline.
    public static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(value) else { preconditionFailure("prediction JSON does not encode") }
        return String(decoding: data, as: UTF8.self)
    }

    /// `compute 1.23 ms, halo ..., allreduce ..., data ..., step 4.56 ms; peak 1.2 GiB per rank`.
    public var summary: String {
        "compute \(Self.ms(compute)), halo \(Self.ms(halo)), allreduce \(Self.ms(allreduce)), data \(Self.ms(data)), "
            + "step \(Self.ms(seconds)); peak \(Self.bytes(peakBytesPerRank)) per rank"
    }

    static func ms(_ s: Double) -> String { String(format: s * 1e3 >= 100 ? "%.0f ms" : "%.3g ms", s * 1e3) }

    /// Bytes in binary units with three significant figures (`1.50 GiB`).
    public static func bytes(_ n: Int) -> String {
        var x = Double(n)
        for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
            if x < 1024 || unit == "TiB" { return unit == "B" ? "\(n) B" : String(format: x >= 100 ? "%.0f" : "%.3g", x) + " " + unit }
            x /= 1024
        }
        return "\(n) B"
    }
}
