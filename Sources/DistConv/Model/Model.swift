/// A checked model: ops in execution order, every tensor's shape known.
///
/// Tensor names follow the reference dump: op `X` writes `X.output` (the data op writes
/// `X.raw_output` and `X.labels_output`; a loss also writes `X.probability`); parameters
/// are named in the model file (`L0.W`) or default to `<op>.W`, `<op>.b`.
public struct Model: Sendable {
    public var name: String
    /// Where the model came from, for error messages.
    public var source: String
    public var ops: [Op]
    /// Every tensor, forward only (gradients are derived by the partitioner).
    public var tensors: [String: TensorInfo]
    /// Tensor names in order of first appearance.
    public var tensorOrder: [String]

    public func tensor(_ name: String) -> TensorInfo {
        guard let t = tensors[name] else { preconditionFailure("model \(self.name) has no tensor \(name)") }
        return t
    }

    public var dataOp: Op { ops[0] }
    /// The global batch size.
    public var batch: Int { dataOp.outputShape[0] }
}

/// One op of a checked model.
public struct Op: Sendable {
    public var name: String
    public var kind: OpKind
    /// The activation tensor this op reads (none for the data op).
    public var input: String?
    /// Labels, for losses and evaluation.
    public var labels: String?
    /// Parameter tensors, in the order the op uses them.
    public var parameters: [String]
    /// Output tensors; the first is the main one.
    public var outputs: [String]
    public var inputShape: [Int]
    public var outputShape: [Int]
    /// Parts per dimension of the op's partitioned tensor: the output for most ops, the
    /// input for `linear`, losses and `evaluate` (whose outputs are reduced).
    public var grid: [Int]
}

public struct TensorInfo: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        /// Computed by an op; has a gradient when it lies between a parameter and the loss.
        case activation
        /// Supplied by the data loader (images, labels); no gradient.
        case input
        /// A trained parameter.
        case parameter
        /// A metric or loss value, not differentiated further.
        case result
    }
    public var name: String
    public var shape: [Int]
    public var role: Role
}
