import Geometry

/// Images and labels from a pair of IDX files (the MNIST family's format), held in memory.
///
/// Images are `[N, H, W]` unsigned bytes, read as `[N, 1, H, W]`; each pixel comes out as
/// `(x / 255 - mean) / std`. Labels are `[N]` unsigned bytes below `classes`.
public final class IDXDataset: ImageDataset {
    public let name: String
    public let count: Int
    public let imageShape: [Int]
    public let classes: Int
    /// The mean and standard deviation of the pixels scaled to [0, 1], subtracted and
    /// divided out.
    public let mean: Double
    public let std: Double

    private let images: IDXFile
    private let labels: IDXFile

    /// Opens `images` (magic 0x00000803) and `labels` (magic 0x00000801), gzip-compressed or
    /// not, and checks them against each other. `name` defaults to the images path.
    public convenience init(
        images imagesPath: String, labels labelsPath: String, name: String? = nil, classes: Int = 10,
        mean: Double = IDXDataset.fashionMNISTMean, std: Double = IDXDataset.fashionMNISTStd
    ) throws(DataError) {
        try self.init(
            images: try IDXFile(path: imagesPath, rank: 3, what: "pixels"),
            labels: try IDXFile(path: labelsPath, rank: 1, what: "labels"),
            name: name, classes: classes, mean: mean, std: std)
    }

    /// The same from the files' bytes in memory (gzip-compressed or not); `imagesFile` and
    /// `labelsFile` name them in errors.
    public convenience init(
        imageBytes: [UInt8], labelBytes: [UInt8], imagesFile: String = "images", labelsFile: String = "labels",
        name: String? = nil, classes: Int = 10,
        mean: Double = IDXDataset.fashionMNISTMean, std: Double = IDXDataset.fashionMNISTStd
    ) throws(DataError) {
        try self.init(
            images: try IDXFile(contents: try .copying(imageBytes), path: imagesFile, rank: 3, what: "pixels"),
            labels: try IDXFile(contents: try .copying(labelBytes), path: labelsFile, rank: 1, what: "labels"),
            name: name, classes: classes, mean: mean, std: std)
    }

    private init(
        images: IDXFile, labels: IDXFile, name: String?, classes: Int, mean: Double, std: Double
    ) throws(DataError) {
        precondition(classes > 0, "IDXDataset: \(classes) classes")
        precondition(std > 0, "IDXDataset: standard deviation \(std)")
        self.images = images
        self.labels = labels
        let (imagesPath, labelsPath) = (images.path, labels.path)
        let n = images.dimensions[0]
        guard labels.dimensions[0] == n else {
            throw DataError(
                file: labelsPath, field: "labels", "\(labels.dimensions[0]) labels for \(n) images in \(imagesPath)")
        }
        for i in 0..<n where Int(labels.elements[i]) >= classes {
            throw DataError(
                file: labelsPath, field: "labels",
                "label \(labels.elements[i]) of sample \(i) is not below \(classes) classes")
        }
        self.name = name ?? imagesPath
        self.count = n
        self.imageShape = [1, images.dimensions[1], images.dimensions[2]]
        self.classes = classes
        self.mean = mean
        self.std = std
    }

    public func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Float>) {
        load(samples: samples, region: region, into: into)
    }

    public func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Double>) {
        load(samples: samples, region: region, into: into)
    }

    public func label(_ sample: Int) -> Int {
        precondition(sample >= 0 && sample < count, "\(name): sample \(sample) outside 0..<\(count)")
        return Int(labels.elements[sample])
    }

    /// `(x / 255 - mean) / std` as one multiply-add per pixel.
    @inline(__always)
    private func load<T: BinaryFloatingPoint>(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<T>) {
        let scale = T(1 / (255 * std)), shift = T(-mean / std)
        let pixels = images.elements
        let imageVolume = imageShape[1] * imageShape[2]
        forEachRow(samples: samples, region: region, bufferCount: into.count) { sample, pixel, offset, length in
            let row = pixels + sample * imageVolume + pixel
            // A buffer over just the row lets the loop vectorise; indexing `into` at
            // `offset + i` does not.
            let out = UnsafeMutableBufferPointer(rebasing: into[offset..<(offset + length)])
            for i in 0..<length { out[i] = T(row[i]) * scale + shift }
        }
    }
}
