import Foundation
import Geometry

/// Where `train` takes its data from (`--data`, `--data-npy`), resolved against the
/// model: the images must have the model's [C, H, W] and at most its classes.
public enum DataSource: Sendable, Equatable {
    /// IDX files (MNIST layout) in a directory, Fashion-MNIST's normalisation.
    case idx(directory: String)
    /// The built-in learnable task, at the model's image size.
    case synthetic
    /// A user's arrays; the last tenth is held out as the test set.
    case npy(images: String, labels: String)

    /// `--data DIR|synthetic` or `--data-npy`; with neither, Debian's Fashion-MNIST when
    /// installed, else the synthetic task (`fallback` says so on one line).
    public static func choose(data: String?, npy: [String]) -> (source: DataSource, fallback: String?) {
        if npy.count == 2 { return (.npy(images: npy[0], labels: npy[1]), nil) }
        if let data { return (data == "synthetic" ? .synthetic : .idx(directory: data), nil) }
        let dir = IDXDataset.fashionMNISTDirectory
        if FileManager.default.fileExists(atPath: dir + "/train-images-idx3-ubyte.gz")
            || FileManager.default.fileExists(atPath: dir + "/train-images-idx3-ubyte")
        {
            return (.idx(directory: dir), nil)
        }
        return (.synthetic, "no data set at \(dir) (Debian package dataset-fashion-mnist): training on the synthetic task")
    }

    /// Opens the data for a model whose data op has `shape` [N, C, H, W] and `classes`.
    public func open(shape: [Int], classes: Int, seed: UInt64) throws -> DataSplit {
        let split: DataSplit
        switch self {
        case .idx(let directory): split = try IDXDataset.fashionMNIST(directory: directory)
        case .synthetic:
            return SyntheticDataset.split(imageShape: Array(shape[1...]), classes: classes, seed: seed &+ 0x5917,
                                          trainCount: 16384, testCount: 2048)
        case .npy(let images, let labels):
            let all = try NPYDataset(images: images, labels: labels, classes: classes)
            let test = max(1, all.count / 10)
            guard all.count > test else {
                throw DataError(file: images, field: "shape", "\(all.count) samples: need at least 2 (one held out for testing)")
            }
            split = DataSplit(train: SubsetDataset(all, 0..<(all.count - test), role: "train"),
                              test: SubsetDataset(all, (all.count - test)..<all.count, role: "test"))
        }
        guard split.train.imageShape == Array(shape[1...]) else {
            throw DataError(file: split.train.name, field: "shape",
                            "images are \(split.train.imageShape) [C, H, W], the model reads \(Array(shape[1...])) (--image-size, or the model's data op)")
        }
        guard split.train.classes <= classes else {
            throw DataError(file: split.train.name, field: "labels",
                            "\(split.train.classes) classes, the model has \(classes) (--classes)")
        }
        return split
    }
}

/// Samples `range` of another data set, renumbered from 0.
final class SubsetDataset: ImageDataset {
    let base: any ImageDataset
    let range: Range<Int>
    let name: String
    var count: Int { range.count }
    var imageShape: [Int] { base.imageShape }
    var classes: Int { base.classes }

    init(_ base: any ImageDataset, _ range: Range<Int>, role: String) {
        self.base = base
        self.range = range
        self.name = "\(base.name) \(role) samples \(range.lowerBound)..<\(range.upperBound)"
    }

    func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Float>) {
        base.loadImages(samples: samples.map { $0 + range.lowerBound }, region: region, into: into)
    }

    func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Double>) {
        base.loadImages(samples: samples.map { $0 + range.lowerBound }, region: region, into: into)
    }

    func label(_ sample: Int) -> Int { base.label(sample + range.lowerBound) }
}
