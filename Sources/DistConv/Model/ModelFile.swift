import Foundation

/// A model as written in `examples/*.json`: ops in order, their parameters, and a process
/// grid per op. This is the file's shape only; `Model(file:source:)` checks it and infers
/// every tensor's shape.
///
/// ```json
/// {"format": "distconv-model", "version": 1, "name": "fashion-cnn",
///  "ops": [
///    {"name": "data", "type": "data", "shape": [64, 1, 28, 28], "classes": 10, "grid": [1, 1, 2, 2]},
///    {"name": "conv1", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1], "grid": [1, 1, 2, 2]},
///    ...]}
/// ```
public struct ModelFile: Codable, Sendable, Equatable {
    public static let formatName = "distconv-model"
    public static let currentVersion = 1

    public var format: String?
    public var version: Int?
    public var name: String
    public var ops: [OpEntry]

    public init(name: String, ops: [OpEntry]) {
        self.format = Self.formatName
        self.version = Self.currentVersion
        self.name = name
        self.ops = ops
    }

    /// One op of a model file. Fields that do not apply to the op's type are absent.
    public struct OpEntry: Codable, Sendable, Equatable {
        public var name: String
        public var type: String
        /// The op (its main output) or the tensor this op reads; the previous op when absent.
        public var input: String?
        /// Parts per dimension of the op's partitioned tensor (see `OpKind`); product = ranks.
        public var grid: [Int]?

        // data
        public var shape: [Int]?
        public var classes: Int?
        // windows: conv2d, locally_connected, max_pool, avg_pool
        public var outChannels: Int?
        public var kernel: [Int]?
        public var stride: [Int]?
        public var padding: [Int]?
        public var dilation: [Int]?
        public var groups: Int?
        public var coverAll: Bool?
        public var tileStride: Int?
        public var tileSize: [Int]?
        // linear
        public var outFeatures: Int?
        // dropout, batch_norm
        public var ratio: Double?
        public var eps: Double?
        public var momentum: Double?
        // parameter tensor names (defaults: "<op>.W", "<op>.b", "<op>.a", "<op>.gamma", "<op>.beta")
        public var weights: String?
        public var bias: String?
        public var scale: String?
        /// False for a conv2d or linear without bias.
        public var hasBias: Bool?

        public init(name: String, type: String, input: String? = nil, grid: [Int]? = nil) {
            self.name = name
            self.type = type
            self.input = input
            self.grid = grid
        }

        enum CodingKeys: String, CodingKey {
            case name, type, input, grid, shape, classes
            case outChannels = "out_channels", kernel, stride, padding, dilation, groups
            case coverAll = "cover_all", tileStride = "tile_stride", tileSize = "tile_size"
            case outFeatures = "out_features", ratio, eps, momentum
            case weights, bias, scale, hasBias = "has_bias"
        }
    }
}
