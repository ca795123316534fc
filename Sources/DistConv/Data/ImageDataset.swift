import Geometry

/// A labelled image set, read by global sample index. Values come out normalised.
///
/// Implementations are immutable after they open, so one instance serves every thread.
/// Every method is a pure function of its arguments: the same sample and region give the
/// same values on every rank, however the batch is split.
public protocol ImageDataset: AnyObject, Sendable {
    /// What the data is and where it came from, for logs:
    /// `fashion-mnist train (/usr/share/datasets/fashion-mnist)`.
    var name: String { get }
    /// Number of samples; indices run over `0 ..< count`.
    var count: Int { get }
    /// `[C, H, W]` of every image.
    var imageShape: [Int] { get }
    /// Number of classes; every label is in `0 ..< classes`.
    var classes: Int { get }

    /// Writes the part `region` of the batch made of `samples` into `into`, dense
    /// row-major over `region`.
    ///
    /// `region` is 4-D `[N, C, H, W]`: its N range indexes into `samples`
    /// (`0 ..< samples.count`), its C/H/W ranges are global pixel coordinates of the image.
    /// Only the pixels inside `region` are read from the source, so a rank loads only its
    /// rect of a large image. `into.count` must equal `region.volume`; an empty region
    /// writes nothing.
    func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Float>)

    /// Same in Double (the gradient checks run whole models in Double).
    func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Double>)

    /// The class of `sample`, in `0 ..< classes`.
    func label(_ sample: Int) -> Int
}
