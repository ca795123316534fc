/// How to instantiate an imported graph: the dump fixes the architecture (channels,
/// kernels, strides, classes); batch size and image size may be chosen anew, as a
/// Chainer model built with lazily sized linear layers would be. The first linear layer's
/// weights then take the size the new image gives.
public struct GraphImportOptions: Sendable, Equatable {
    /// Global batch size; nil keeps the dump's (32 for VGG-19).
    public var batch: Int?
    /// Height and width of the (square) input images; nil keeps the dump's (224).
    public var imageSize: Int?

    public init(batch: Int? = nil, imageSize: Int? = nil) {
        self.batch = batch
        self.imageSize = imageSize
    }
}
