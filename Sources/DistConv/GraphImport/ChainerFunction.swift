/// The Chainer functions a graph dump may hold, with the attributes distconv uses.
/// Unknown types are an error naming the line (`GraphError`).
public enum ChainerFunction: Sendable, Equatable {
    /// `Convolution2DFunction`: inputs x, W[, b]; stride sy/sx, padding ph/pw, dilation
    /// dy/dx (default 1), groups (default 1); `cover_all` must be false.
    case convolution2D(ConvolutionAttributes)
    /// `MaxPooling2D`: kernel kh/kw, stride sy/sx, padding ph/pw, `cover_all`.
    case maxPooling2D(PoolingAttributes)
    /// `LinearFunction`: inputs x, W[, b].
    case linear
    /// `ReLU`.
    case relu
    /// `Dropout` with `dropout_ratio`.
    case dropout(ratio: Double)
    /// `Reshape` to `shape` (distconv imports only flattening reshapes, `[N, -1]`).
    case reshape(shape: [Int])
    /// `SoftmaxCrossEntropy`: inputs scores and integer labels.
    case softmaxCrossEntropy

    /// Every type name the parser accepts.
    public static let typeNames = [
        "Convolution2DFunction", "MaxPooling2D", "LinearFunction", "ReLU", "Dropout", "Reshape",
        "SoftmaxCrossEntropy",
    ]

    public var typeName: String {
        switch self {
        case .convolution2D: return "Convolution2DFunction"
        case .maxPooling2D: return "MaxPooling2D"
        case .linear: return "LinearFunction"
        case .relu: return "ReLU"
        case .dropout: return "Dropout"
        case .reshape: return "Reshape"
        case .softmaxCrossEntropy: return "SoftmaxCrossEntropy"
        }
    }
}

/// `Convolution2DFunction`'s attributes, as Chainer names them.
public struct ConvolutionAttributes: Decodable, Sendable, Equatable {
    public var sy: Int
    public var sx: Int
    public var ph: Int
    public var pw: Int
    public var dy: Int?
    public var dx: Int?
    public var groups: Int?
    public var coverAll: Bool?

    enum CodingKeys: String, CodingKey {
        case sy, sx, ph, pw, dy, dx, groups, coverAll = "cover_all"
    }
}

/// `MaxPooling2D`'s attributes, as Chainer names them.
public struct PoolingAttributes: Decodable, Sendable, Equatable {
    public var kh: Int
    public var kw: Int
    public var sy: Int
    public var sx: Int
    public var ph: Int
    public var pw: Int
    public var coverAll: Bool

    enum CodingKeys: String, CodingKey {
        case kh, kw, sy, sx, ph, pw, coverAll = "cover_all"
    }
}

/// Attributes every function carries; `rank` is Chainer's generation.
struct CommonAttributes: Decodable {
    var rank: Int?
}

struct DropoutAttributes: Decodable {
    var dropoutRatio: Double
    enum CodingKeys: String, CodingKey { case dropoutRatio = "dropout_ratio" }
}

struct ReshapeAttributes: Decodable {
    var shape: [Int]
}
