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
