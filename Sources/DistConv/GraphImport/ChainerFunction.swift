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
