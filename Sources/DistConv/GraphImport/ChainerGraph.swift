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
