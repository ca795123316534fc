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
