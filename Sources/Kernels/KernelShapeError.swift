/// A layer's shapes that cannot work together, found before any kernel runs. Users cause
/// these (a model file, a flag), so they are thrown, and the message names the layer and
/// the shapes.
public enum KernelShapeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The (dilated) kernel does not fit the padded input along an axis.
    case kernelLargerThanInput(layer: String, axis: String, input: Int, padding: Int, kernel: Int, dilation: Int)
    /// A channel count is not a multiple of the group count.
    case channelsNotDivisibleByGroups(layer: String, which: String, channels: Int, groups: Int)
    /// The tiles of a locally connected layer read past the input.
    case tilesExceedInput(layer: String, axis: String, tiles: Int, tileStride: Int, kernel: Int, input: Int)
    /// A size or option outside its domain (zero channels, stride 0, padding too wide...).
    case invalidParameter(layer: String, name: String, value: Int, requirement: String)

    public var description: String {
        switch self {
        case let .kernelLargerThanInput(layer, axis, input, padding, kernel, dilation):
            let span = dilation * (kernel - 1) + 1
            return "\(layer): kernel \(kernel)\(dilation > 1 ? " (dilation \(dilation), span \(span))" : "") "
                + "is larger than the padded input along \(axis): input \(input) + 2*padding \(padding) = "
                + "\(input + 2 * padding)"
        case let .channelsNotDivisibleByGroups(layer, which, channels, groups):
            return "\(layer): \(which) channels \(channels) are not divisible by groups \(groups)"
        case let .tilesExceedInput(layer, axis, tiles, tileStride, kernel, input):
            return "\(layer): \(tiles) tiles with tile stride \(tileStride) and kernel \(kernel) along \(axis) "
                + "need input \((tiles - 1) * tileStride + kernel), but the input is \(input)"
        case let .invalidParameter(layer, name, value, requirement):
            return "\(layer): \(name) \(value) must be \(requirement)"
        }
    }
}

/// Throws `invalidParameter` unless `value >= minimum`.
func requireAtLeast(_ value: Int, _ minimum: Int, layer: String, name: String) throws(KernelShapeError) {
    guard value >= minimum else {
        throw .invalidParameter(layer: layer, name: name, value: value, requirement: ">= \(minimum)")
    }
}
