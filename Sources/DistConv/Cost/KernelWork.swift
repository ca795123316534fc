import Kernels

/// One local kernel call of a training step on one rank, described by what decides its
/// time: the pass, the shard shapes it reads and writes, its window and the storage
/// layout. The cost model (`StepCostModel`) lists a step's calls as `KernelWork`s; a
/// `MachineRates` (a calibrated `MachineProfile`, or a hand-made table in tests) says
/// how long each takes. `distconv calibrate` times real kernels on such works.
///
/// Shapes are `[N, C, H, W]` of the rank's shard: `input` as the kernel reads it (halo
/// included), `output` as it writes it. For backward passes they stay the forward op's
/// shapes (backward-data reads the output gradient and writes the input gradient).
public struct KernelWork: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case convolutionForward = "conv_forward"
        case convolutionBackwardData = "conv_backward_data"
        case convolutionBackwardWeights = "conv_backward_weights"
        case poolingForward = "pool_forward"
        case poolingBackward = "pool_backward"
        case batchNormForward = "batch_norm_forward"
        case batchNormBackward = "batch_norm_backward"
        /// ReLU, tanh, sigmoid, dropout, affine: one pass over the output.
        case elementwiseForward = "elementwise_forward"
        case elementwiseBackward = "elementwise_backward"
        case linearForward = "linear_forward"
        case linearBackwardData = "linear_backward_data"
        case linearBackwardWeights = "linear_backward_weights"
        case locallyConnectedForward = "locally_connected_forward"
        case locallyConnectedBackwardData = "locally_connected_backward_data"
        case locallyConnectedBackwardWeights = "locally_connected_backward_weights"
        /// Loss and evaluation over the rank's logits.
        case loss = "loss"
        /// A local layout change of an activation shard (NCHW <-> blocked).
        case reorder = "reorder"
        /// Producing the rank's shard of a batch (`output`): decoding or generating it.
        case dataLoad = "data_load"
        /// The optimizer's update of `output`'s elements of parameters.
        case optimizerUpdate = "optimizer_update"
    }

    public var kind: Kind
    /// The shard read, `[N, C, H, W]` (halo included); `[]` when there is none.
    public var input: [Int]
    /// The shard written, `[N, C, H, W]`.
    public var output: [Int]
    /// `[KH, KW, SH, SW]` for convolutions, pooling and locally connected layers; `[]`
    /// otherwise.
    public var window: [Int]
    public var groups: Int
    /// Channel block of the activation storage (1 for NCHW, 16 for nChw16c).
    public var block: Int
    /// An op-specific distinction that changes the kernel (`"max"`, `"average"`,
    /// `"relu"`, `"synthetic"`, `"momentum"` ...); `""` when none.
    public var variant: String

    public init(kind: Kind, input: [Int], output: [Int], window: [Int] = [], groups: Int = 1, block: Int = 1,
                variant: String = "") {
        self.kind = kind
        self.input = input
        self.output = output
        self.window = window
        self.groups = groups
        self.block = block
        self.variant = variant
    }

    /// Floating-point operations (a multiply-add counts 2) for the kinds whose time
    /// follows them (convolutions, linear and locally connected layers); else the elements
    /// read and written. Rates and interpolation work in this unit.
    public var work: Double {
        let outElements = Double(output.reduce(1, *))
        let inElements = Double(input.reduce(1, *))
        switch kind {
        case .convolutionForward, .convolutionBackwardData, .convolutionBackwardWeights:
            guard input.count == 4, output.count == 4, window.count >= 2 else { return outElements }
            return 2 * outElements * Double(input[1] / max(groups, 1) * window[0] * window[1])
        case .locallyConnectedForward, .locallyConnectedBackwardData, .locallyConnectedBackwardWeights:
            guard input.count == 4, window.count >= 2 else { return outElements }
            return 2 * outElements * Double(input[1] * window[0] * window[1])
        case .linearForward, .linearBackwardData, .linearBackwardWeights:
            guard input.count == 4, output.count == 4 else { return outElements }
            return 2 * Double(input[0]) * Double(input[1] * input[2] * input[3]) * Double(output[1])
        default:
            return inElements + outElements
        }
    }

    public var description: String {
        var s = "\(kind.rawValue) \(input.map(String.init).joined(separator: "x")) -> \(output.map(String.init).joined(separator: "x"))"
        if !window.isEmpty { s += " window \(window.map(String.init).joined(separator: ","))" }
        if groups != 1 { s += " groups \(groups)" }
        if block != 1 { s += " block \(block)" }
        if !variant.isEmpty { s += " \(variant)" }
        return s
    }
}
