import Geometry

/// The shapes of a 2-D convolution over a whole (global) NCHW tensor, checked once.
///
/// Weights are `[outChannels, inChannels / groups, kernelHeight, kernelWidth]` (PyTorch's
/// layout); output size per axis is `floor((n + 2p - d(k-1) - 1) / s) + 1`.
public struct Conv2DGeometry: Hashable, Sendable {
    public let layer: String
    public let inChannels: Int
    public let outChannels: Int
    public let groups: Int
    /// Global input height and width.
    public let height: Int
    public let width: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let strideH: Int
    public let strideW: Int
    public let paddingH: Int
    public let paddingW: Int
    public let dilationH: Int
    public let dilationW: Int
    /// Global output height and width.
    public let outputHeight: Int
    public let outputWidth: Int

    /// Checks the shapes; throws naming `layer` when the kernel does not fit the padded
    /// input or a channel count is not divisible by `groups`.
    public init(
        layer: String = "Conv2D", inChannels: Int, outChannels: Int, height: Int, width: Int,
        kernelHeight: Int, kernelWidth: Int, strideH: Int = 1, strideW: Int = 1,
        paddingH: Int = 0, paddingW: Int = 0, dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1
    ) throws(KernelShapeError) {
        for (name, value) in [("in channels", inChannels), ("out channels", outChannels), ("groups", groups),
                              ("height", height), ("width", width), ("kernel height", kernelHeight),
                              ("kernel width", kernelWidth), ("stride", strideH), ("stride", strideW),
                              ("dilation", dilationH), ("dilation", dilationW)] {
            try requireAtLeast(value, 1, layer: layer, name: name)
        }
        try requireAtLeast(paddingH, 0, layer: layer, name: "padding")
        try requireAtLeast(paddingW, 0, layer: layer, name: "padding")
        guard inChannels % groups == 0 else {
            throw .channelsNotDivisibleByGroups(layer: layer, which: "input", channels: inChannels, groups: groups)
        }
        guard outChannels % groups == 0 else {
            throw .channelsNotDivisibleByGroups(layer: layer, which: "output", channels: outChannels, groups: groups)
        }
        guard dilationH * (kernelHeight - 1) + 1 <= height + 2 * paddingH else {
            throw .kernelLargerThanInput(layer: layer, axis: "height", input: height, padding: paddingH,
                                         kernel: kernelHeight, dilation: dilationH)
        }
        guard dilationW * (kernelWidth - 1) + 1 <= width + 2 * paddingW else {
            throw .kernelLargerThanInput(layer: layer, axis: "width", input: width, padding: paddingW,
                                         kernel: kernelWidth, dilation: dilationW)
        }
        self.layer = layer
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideH = strideH
        self.strideW = strideW
        self.paddingH = paddingH
        self.paddingW = paddingW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.outputHeight = windowOutputLength(
            inputLength: height, kernel: kernelHeight, stride: strideH, padding: paddingH, dilation: dilationH)
        self.outputWidth = windowOutputLength(
            inputLength: width, kernel: kernelWidth, stride: strideW, padding: paddingW, dilation: dilationW)
    }

    /// Unchecked, for internal derived convolutions (the transposed form of
    /// backward-data), whose padding may exceed what a user layer allows.
    init(
        uncheckedLayer layer: String, inChannels: Int, outChannels: Int, groups: Int, height: Int, width: Int,
        kernelHeight: Int, kernelWidth: Int, paddingH: Int, paddingW: Int, dilationH: Int, dilationW: Int
    ) {
        self.layer = layer
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideH = 1
        self.strideW = 1
        self.paddingH = paddingH
        self.paddingW = paddingW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.outputHeight = windowOutputLength(
            inputLength: height, kernel: kernelHeight, stride: 1, padding: paddingH, dilation: dilationH)
        self.outputWidth = windowOutputLength(
            inputLength: width, kernel: kernelWidth, stride: 1, padding: paddingW, dilation: dilationW)
    }

    /// A square kernel with the same stride, padding and dilation on both axes.
    public init(
        layer: String = "Conv2D", inChannels: Int, outChannels: Int, height: Int, width: Int,
        kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1
    ) throws(KernelShapeError) {
        try self.init(
            layer: layer, inChannels: inChannels, outChannels: outChannels, height: height, width: width,
            kernelHeight: kernel, kernelWidth: kernel, strideH: stride, strideW: stride,
            paddingH: padding, paddingW: padding, dilationH: dilation, dilationW: dilation, groups: groups)
    }

    /// Input channels per group.
    public var groupInChannels: Int { inChannels / groups }
    /// Output channels per group.
    public var groupOutChannels: Int { outChannels / groups }
    /// Rows of the im2col matrix of one group: `Cin/G * KH * KW`.
    public var patchSize: Int { groupInChannels * kernelHeight * kernelWidth }
    /// Weight elements for output channels `block`.
    public func weightCount(outChannels block: Range<Int>) -> Int { block.count * patchSize }

    /// The whole-tensor shard.
    public var wholeShard: SpatialShard {
        .whole(height: height, width: width, outputHeight: outputHeight, outputWidth: outputWidth)
    }

    /// Multiply-adds times two of one forward pass over `batch` images of a shard's
    /// output for `outChannels` output channels (backward-data and backward-filter do as
    /// many).
    public func flops(batch: Int, shard: SpatialShard, outChannels: Int? = nil) -> Double {
        2 * Double(batch) * Double(outChannels ?? self.outChannels) * Double(patchSize) * Double(shard.outputPlane)
    }
}
