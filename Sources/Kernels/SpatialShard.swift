import Geometry

/// The part of a sliding-window layer (convolution, pooling) one rank computes: the
/// global rows and columns its local input buffer covers, and the global output rows and
/// columns it must produce.
///
/// The input ranges are the rank's `read_rect` (owned block plus halo), the output ranges
/// its `write_rect`. Padding applies only at the global border: an input index outside
/// the global tensor reads zero; one inside it must lie in the local input ranges.
/// A whole-tensor call is the shard whose ranges are the whole tensor.
public struct SpatialShard: Hashable, Sendable {
    public var inputRows: Range<Int>
    public var inputCols: Range<Int>
    public var outputRows: Range<Int>
    public var outputCols: Range<Int>

    public init(inputRows: Range<Int>, inputCols: Range<Int>, outputRows: Range<Int>, outputCols: Range<Int>) {
        self.inputRows = inputRows
        self.inputCols = inputCols
        self.outputRows = outputRows
        self.outputCols = outputCols
    }

    /// A shard from NCHW (or HW) rects: the last two dimensions are rows and columns.
    public init(input: Rect, output: Rect) {
        precondition(input.dimensions >= 2 && output.dimensions >= 2, "shard rects \(input), \(output) need 2 dimensions or more")
        self.init(
            inputRows: input.range(input.dimensions - 2), inputCols: input.range(input.dimensions - 1),
            outputRows: output.range(output.dimensions - 2), outputCols: output.range(output.dimensions - 1))
    }

    /// The whole tensor: input `height x width`, output `outputHeight x outputWidth`.
    public static func whole(height: Int, width: Int, outputHeight: Int, outputWidth: Int) -> SpatialShard {
        SpatialShard(inputRows: 0..<height, inputCols: 0..<width, outputRows: 0..<outputHeight, outputCols: 0..<outputWidth)
    }

    /// Local input plane size (rows x columns) and output plane size.
    public var inputPlane: Int { inputRows.count * inputCols.count }
    public var outputPlane: Int { outputRows.count * outputCols.count }
}

/// Checks that the shard's local input holds every in-tensor index its outputs read
/// along one axis (a programmer error otherwise: the partitioner gives the rects).
func checkCovers(
    _ local: Range<Int>, outputs: Range<Int>, kernel: Int, stride: Int, padding: Int, dilation: Int,
    length: Int, layer: String, axis: String
) {
    let needed = receptiveField(
        of: outputs, kernel: kernel, stride: stride, padding: padding, dilation: dilation, inputLength: length)
    precondition(
        needed.isEmpty || (local.lowerBound <= needed.lowerBound && needed.upperBound <= local.upperBound),
        "\(layer): local input \(axis) \(local) does not cover \(needed), read by outputs \(outputs)")
}
