import Geometry

/// Images and labels from a pair of NumPy `.npy` files; the images stay memory-mapped, so
/// loading a region touches only the pages that hold it.
///
/// Images are float32 or uint8, little-endian, C order, of shape `[N, C, H, W]` or
/// `[N, H, W]` (read as C = 1). uint8 pixels are scaled to [0, 1] (`x / 255`); float32
/// pixels come out as they are, so any normalisation is the file's. Labels are int64,
/// int32 or uint8 of shape `[N]`, non-negative.
///
/// `@unchecked Sendable`: the mapping is read-only and nothing changes after `init`.
public final class NPYDataset: ImageDataset, @unchecked Sendable {
    public let name: String
    public let count: Int
    public let imageShape: [Int]
    public let classes: Int

    private let store: ByteStore
    private let pixels: UnsafeRawPointer
    private let element: NPYHeader.Element
    private let labels: [Int]

    /// The most classes a labels file may imply when `classes` is not given (as `--classes`).
    public static let maximumClasses = 1 << 20

    /// Opens `images` and `labels`. `classes` defaults to the largest label + 1; when
    /// given, every label must be below it.
    public convenience init(images imagesPath: String, labels labelsPath: String, classes: Int?) throws(DataError) {
        try self.init(
            images: try ByteStore.map(imagesPath), imagesPath: imagesPath,
            labels: { () throws(DataError) in try ByteStore.map(labelsPath) }, labelsPath: labelsPath, classes: classes)
    }

    /// The same from the files' bytes in memory (copied); `imagesFile` and `labelsFile` name
    /// them in errors.
    public convenience init(
        imageBytes: [UInt8], labelBytes: [UInt8], imagesFile: String = "images.npy",
        labelsFile: String = "labels.npy", classes: Int?
    ) throws(DataError) {
        try self.init(
            images: try .copying(imageBytes), imagesPath: imagesFile,
            labels: { () throws(DataError) in try .copying(labelBytes) }, labelsPath: labelsFile, classes: classes)
    }

    private init(
        images: ByteStore, imagesPath: String, labels openLabels: () throws(DataError) -> ByteStore,
        labelsPath: String, classes: Int?
    ) throws(DataError) {
        store = images
        let header = try NPYHeader(store.bytes, file: imagesPath)
        element = try header.element(allowed: [.float32, .uint8], file: imagesPath)
        try Self.checkOrder(header, file: imagesPath)
        let shape = header.shape
        guard shape.count == 3 || shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
            throw DataError(
                file: imagesPath, field: "shape",
                "images of shape \(shape); expected [N, C, H, W] or [N, H, W] with every size at least 1")
        }
        _ = try Self.checkLength(header, shape: shape, size: element.size, store: store, file: imagesPath)
        // Non-nil: the file holds at least one element after the header.
        guard let base = store.bytes.baseAddress else { throw DataError(file: imagesPath, field: "header", "no data") }
        pixels = base + header.dataOffset
        count = shape[0]
        imageShape = shape.count == 4 ? Array(shape[1...]) : [1, shape[1], shape[2]]

        labels = try Self.readLabels(try openLabels(), file: labelsPath, count: count, imagesPath: imagesPath)
        if let classes {
            guard classes > 0 else { throw DataError(file: labelsPath, field: "classes", "\(classes) classes") }
            if let i = labels.firstIndex(where: { $0 >= classes }) {
                throw DataError(
                    file: labelsPath, field: "labels",
                    "label \(labels[i]) of sample \(i) is not below \(classes) classes")
            }
            self.classes = classes
        } else {
            // A label past any class count a model could have is a corrupt file (and
            // `Int64.max + 1` would overflow).
            let largest = labels.max() ?? 0
            guard largest < Self.maximumClasses else {
                throw DataError(
                    file: labelsPath, field: "labels",
                    "label \(largest) is not below \(Self.maximumClasses), the most classes read")
            }
            self.classes = largest + 1
        }
        name = "npy \(imagesPath)"
    }

    public func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Float>) {
        load(samples: samples, region: region, into: into)
    }

    public func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Double>) {
        load(samples: samples, region: region, into: into)
    }

    public func label(_ sample: Int) -> Int {
        precondition(sample >= 0 && sample < count, "\(name): sample \(sample) outside 0..<\(count)")
        return labels[sample]
    }

    /// Rows are loaded through a buffer over just the row, as in `IDXDataset`, so the loops vectorise.
    @inline(__always)
    private func load<T: BinaryFloatingPoint>(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<T>) {
        let imageVolume = imageShape[0] * imageShape[1] * imageShape[2]
        let pixels = self.pixels
        switch element {
        case .uint8:
            let scale = T(1.0 / 255.0)
            let bytes = pixels.assumingMemoryBound(to: UInt8.self)
            forEachRow(samples: samples, region: region, bufferCount: into.count) { sample, pixel, offset, length in
                let row = bytes + sample * imageVolume + pixel
                let out = UnsafeMutableBufferPointer(rebasing: into[offset..<(offset + length)])
                for i in 0..<length { out[i] = T(row[i]) * scale }
            }
        case .float32:
            // .npy data is 64-byte aligned when numpy writes it, but a header of another
            // writer may leave it at any offset: unaligned loads cost nothing on x86 and arm64.
            forEachRow(samples: samples, region: region, bufferCount: into.count) { sample, pixel, offset, length in
                let row = pixels + 4 * (sample * imageVolume + pixel)
                let out = UnsafeMutableBufferPointer(rebasing: into[offset..<(offset + length)])
                for i in 0..<length { out[i] = T(row.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)) }
            }
        case .int32, .int64:
            preconditionFailure("\(name): images of \(element), which init rejects")
        }
    }
}
