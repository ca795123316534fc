/// A computation graph as Chainer's dump writes it (`reference/vgg19-chainer-graph.txt`):
/// tensors with their size in bytes, then forward and backward ops over tensor ids.
///
/// The file, one item per line:
/// ```
/// T O                      tensor count, op count
/// id bytes name            T lines; name `_` for an anonymous tensor, `/predictor/conv1_1/W` for a parameter
/// forward | backward       O blocks of:
/// nin nout
/// id role                  nin lines; role `_` (forward), `input`, `output` or `gradient` (backward)
/// id                       nout lines
/// TypeName                 e.g. Convolution2DFunction
/// {"sy": 1, ...}           the function's attributes as one JSON object
/// ```
/// Ops are listed in no particular order; the `rank` attribute (Chainer's generation) is
/// what orders them. A backward op's outputs are gradients of the ids it lists.
public struct ChainerGraph: Sendable {
    /// The file the graph came from, for error messages.
    public var source: String
    /// Every tensor; `tensors[id].id == id`.
    public var tensors: [GraphTensor]
    /// Every op, in file order.
    public var ops: [GraphOp]

    /// Bytes of all tensors together, as if every one lived at once.
    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.bytes } }
    /// Bytes of the parameter tensors.
    public var parameterBytes: Int { tensors.filter(\.isParameter).reduce(0) { $0 + $1.bytes } }
    public var forwardOps: [GraphOp] { ops.filter { $0.phase == .forward } }
    public var backwardOps: [GraphOp] { ops.filter { $0.phase == .backward } }
}

/// One tensor of a graph dump.
public struct GraphTensor: Sendable, Equatable {
    public var id: Int
    public var bytes: Int
    /// The dump's name: `_` for anonymous tensors, `/predictor/conv1_1/W` for parameters,
    /// `0`, `1` for the inputs of the traced call.
    public var name: String
    /// The line it was read from.
    public var line: Int

    /// Named by a link path (`/predictor/...`): a trained parameter.
    public var isParameter: Bool { name.hasPrefix("/") }
}

/// One op block of a graph dump.
public struct GraphOp: Sendable, Equatable {
    public enum Phase: String, Sendable, Equatable { case forward, backward }

    /// What a listed input is to the op: `_` on forward ops; on backward ops the forward
    /// op's `input` or `output`, or the `gradient` flowing back into it.
    public enum Role: String, Sendable, Equatable {
        case plain = "_", input, output, gradient
    }

    public struct Input: Sendable, Equatable {
        public var tensor: Int
        public var role: Role
    }

    public var phase: Phase
    public var inputs: [Input]
    /// Tensor ids written (for a backward op: the ids whose gradients it writes).
    public var outputs: [Int]
    public var function: ChainerFunction
    /// Chainer's generation of the function (the `rank` attribute): forward ops run in
    /// increasing order, backward ops in decreasing order. Nil when the dump omits it.
    public var generation: Int?
    /// The line of the block's `forward`/`backward` keyword.
    public var line: Int
    /// The line of the attributes, for errors about them.
    public var attributesLine: Int
}
