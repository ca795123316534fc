/// What an op computes, with the parameters that decide its shapes and partition.
/// Activations are NCHW; a linear layer's output is `[N, out, 1, 1]`, as in the
/// reference dump.
public enum OpKind: Sendable, Equatable {
    /// The source of a batch: images `[N, C, H, W]` and integer labels `[N, 1, 1, 1]`.
    case data(shape: [Int], classes: Int)
    case conv2d(Conv2DSpec)
    case locallyConnected(LocallyConnectedSpec)
    /// `a*x + b` with scalar `a` and per-position `b` of shape `[1, C, H, W]`.
    case affine(scale: String, bias: String)
    case activation(Activation)
    case pool(PoolSpec)
    case batchNorm(BatchNormSpec)
    /// Inverted dropout: zero with probability `ratio`, scale the rest by 1/(1-ratio).
    case dropout(ratio: Double)
    /// `[N, C, H, W]` viewed as `[N, C*H*W, 1, 1]` (C, H, W order, as PyTorch flattens).
    case flatten
    case linear(LinearSpec)
    case loss(LossKind)
    /// Sums of (correct, samples, loss, batches) for the metrics; output `[4, 1, 1, 1]`.
    case evaluate

    /// The name used in model files and dumps.
    public var typeName: String {
        switch self {
        case .data: return "data"
        case .conv2d: return "conv2d"
        case .locallyConnected: return "locally_connected"
        case .affine: return "affine"
        case .activation(let a): return a.rawValue
        case .pool(let p): return p.mode == .max ? "max_pool" : "avg_pool"
        case .batchNorm: return "batch_norm"
        case .dropout: return "dropout"
        case .flatten: return "flatten"
        case .linear: return "linear"
        case .loss(let l): return l.rawValue
        case .evaluate: return "evaluate"
        }
    }

    /// Every type name a model file may use.
    public static let typeNames = [
        "data", "conv2d", "locally_connected", "affine", "relu", "tanh", "sigmoid", "max_pool",
        "avg_pool", "batch_norm", "dropout", "flatten", "linear", "softmax_cross_entropy",
        "multiclass_svm", "evaluate",
    ]
}

public enum Activation: String, Sendable, Equatable { case relu, tanh, sigmoid }

public enum LossKind: String, Sendable, Equatable {
    case softmaxCrossEntropy = "softmax_cross_entropy"
    case multiclassSVM = "multiclass_svm"
}

/// A 2-D convolution; weights `[Cout, Cin/groups, KH, KW]` (PyTorch layout), bias `[Cout]`.
public struct Conv2DSpec: Sendable, Equatable {
    public var outChannels: Int
    public var kernel: [Int]
    public var stride: [Int]
    public var padding: [Int]
    public var dilation: [Int]
    public var groups: Int
    public var weights: String
    public var bias: String?
}

/// The seed's locally connected layer: weights untied per output position,
/// `W[Cout, SY, SX, Cin, KH, KW, TY, TX]` for TY x TX tiles of SY x SX outputs, tile
/// stride S, no padding (DESIGN.md §4).
public struct LocallyConnectedSpec: Sendable, Equatable {
    public var outChannels: Int
    public var kernel: [Int]
    public var tileStride: Int
    public var tileSize: [Int]
    public var weights: String
}

public struct PoolSpec: Sendable, Equatable {
    public enum Mode: Sendable, Equatable { case max, average }
    public var mode: Mode
    public var kernel: [Int]
    public var stride: [Int]
    public var padding: [Int]
    /// Chainer's `cover_all`: the last partial window counts (output length rounds up).
    public var coverAll: Bool
}

public struct BatchNormSpec: Sendable, Equatable {
    public var eps: Double
    public var momentum: Double
    public var gamma: String
    public var beta: String
}

/// A fully connected layer over the whole of its (possibly 4-D) input; weights are kept
/// as `[out, C, H, W]` so a spatially split input needs only its block of them.
public struct LinearSpec: Sendable, Equatable {
    public var outFeatures: Int
    public var weights: String
    public var bias: String?
}
