import Geometry
import Kernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A built-in learnable task, so that `train` always runs: each class is an oriented
/// sinusoidal grating, each sample a jittered copy of its class's grating plus noise.
///
/// For sample `g` of class `k` (of K), at channel `c`, row `y`, column `x` of a C x H x W
/// image, with `u = (x + 1/2) / W` and `v = (y + 1/2) / H`:
///
///     value = a_g * sin(2 pi f_k (u cos t_k + v sin t_k) + p_g + 2 pi c / 3) + noise_g(c, y, x)
///     t_k = pi k / K,  f_k = 1.5 + (k mod 3) cycles per image
///
/// with amplitude `a_g` in [1, 1.4) and phase `p_g` in [-0.6, 0.6) per sample, and noise
/// the sum of three uniforms on [0, 1) minus 1.5 (mean 0, standard deviation 1/2) per
/// pixel. Values are about zero-mean with standard deviation about 1.
///
/// Everything is a pure function of (seed, global sample index, pixel index) through
/// `CounterRandom`, and the grating is defined over global pixel coordinates: any region
/// comes out the same on any rank, whatever the split. Labels are a pure function of
/// (seed, index), uniform over the classes.
public final class SyntheticDataset: ImageDataset {
    public let name: String
    public let count: Int
    public let imageShape: [Int]
    public let classes: Int
    public let seed: UInt64
    /// The global index of sample 0; the test half of a split starts after the training half.
    let first: Int
    /// Per class, the grating's phase step per row.
    private let stepY: [Double]
    /// Per class and column (`k * W + x`), sin and cos of the grating's column phase: with
    /// sin(A + B) = sin A cos B + cos A sin B a pixel costs two multiply-adds instead of a
    /// sin, and every rank reads the same table, so values still do not depend on the split.
    private let columnSin: [Double]
    private let columnCos: [Double]

    // Streams of their own, apart from the small stream numbers (steps) dropout uses.
    private static let labelStream: UInt64 = 0x5359_4E54_4C41_4245  // "SYNTLABE"
    private static let sampleStream: UInt64 = 0x5359_4E54_5341_4D50  // "SYNTSAMP"
    private static let noiseStream: UInt64 = 0x5359_4E54_4E4F_4953  // "SYNTNOIS"

    /// `count` samples of shape `imageShape` (`[C, H, W]`) over `classes` classes.
    public convenience init(count: Int, imageShape: [Int], classes: Int, seed: UInt64) {
        self.init(
            count: count, imageShape: imageShape, classes: classes, seed: seed, first: 0,
            name: "synthetic (seed \(seed))")
    }

    init(count: Int, imageShape: [Int], classes: Int, seed: UInt64, first: Int, name: String) {
        precondition(count >= 0, "SyntheticDataset: count \(count)")
        precondition(classes > 0, "SyntheticDataset: \(classes) classes")
        precondition(
            imageShape.count == 3 && imageShape.allSatisfy { $0 > 0 },
            "SyntheticDataset: image shape \(imageShape) is not [C, H, W] with every size at least 1")
        self.name = name
        self.count = count
        self.imageShape = imageShape
        self.classes = classes
        self.seed = seed
        self.first = first
        let (height, width) = (Double(imageShape[1]), Double(imageShape[2]))
        let angles = (0..<classes).map { Double.pi * Double($0) / Double(classes) }
        let frequencies = (0..<classes).map { 2 * Double.pi * (1.5 + Double($0 % 3)) }
        let stepX = zip(angles, frequencies).map { $1 * cos($0) / width }
        stepY = zip(angles, frequencies).map { $1 * sin($0) / height }
        let columnPhases = stepX.flatMap { step in (0..<imageShape[2]).map { step * (Double($0) + 0.5) } }
        columnSin = columnPhases.map { sin($0) }
        columnCos = columnPhases.map { cos($0) }
    }

    /// Training samples `0 ..< trainCount` and test samples `trainCount ..< trainCount +
    /// testCount` of one task: the same gratings, disjoint samples.
    public static func split(
        imageShape: [Int], classes: Int, seed: UInt64, trainCount: Int, testCount: Int
    ) -> DataSplit {
        DataSplit(
            train: SyntheticDataset(
                count: trainCount, imageShape: imageShape, classes: classes, seed: seed, first: 0,
                name: "synthetic train (seed \(seed))"),
            test: SyntheticDataset(
                count: testCount, imageShape: imageShape, classes: classes, seed: seed, first: trainCount,
                name: "synthetic test (seed \(seed))"))
    }

    public func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Float>) {
        load(samples: samples, region: region, into: into)
    }

    public func loadImages(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<Double>) {
        load(samples: samples, region: region, into: into)
    }

    public func label(_ sample: Int) -> Int {
        precondition(sample >= 0 && sample < count, "\(name): sample \(sample) outside 0..<\(count)")
        return classOf(first + sample)
    }

    private func classOf(_ global: Int) -> Int {
        // Modulo bias is below classes / 2^64.
        Int(CounterRandom.bits(seed: seed, stream: Self.labelStream, index: UInt64(global)) % UInt64(classes))
    }

    @inline(__always)
    private func load<T: BinaryFloatingPoint>(samples: [Int], region: Rect, into: UnsafeMutableBufferPointer<T>) {
        let (height, width) = (imageShape[1], imageShape[2])
        let plane = height * width
        let volume = UInt64(imageShape[0] * plane)
        // A row's noise is drawn in one call into `noise`, then combined with the grating.
        let noise = UnsafeMutableBufferPointer<Float>.allocate(capacity: width)
        defer { noise.deallocate() }
        columnSin.withUnsafeBufferPointer { columnSin in
            columnCos.withUnsafeBufferPointer { columnCos in
                forEachRow(samples: samples, region: region, bufferCount: into.count) { sample, pixel, offset, length in
                    let global = first + sample
                    let k = classOf(global)
                    let g = UInt64(global)
                    let amplitude = 1 + 0.4 * CounterRandom.uniform(seed: seed, stream: Self.sampleStream, index: 2 * g)
                    let phase = 1.2 * CounterRandom.uniform(seed: seed, stream: Self.sampleStream, index: 2 * g + 1) - 0.6
                    let (c, y, x0) = (pixel / plane, (pixel / width) % height, pixel % width)
                    let rowPhase = stepY[k] * (Double(y) + 0.5) + phase + 2 * Double.pi * Double(c) / 3
                    let (rowSin, rowCos) = (amplitude * sin(rowPhase), amplitude * cos(rowPhase))
                    let row = UnsafeMutableBufferPointer(rebasing: noise[0..<length])
                    CounterRandom.centeredSumsOfThree(
                        seed: seed, stream: Self.noiseStream, first: g &* volume &+ UInt64(pixel), into: row)
                    let s = columnSin.baseAddress! + (k * width + x0), cs = columnCos.baseAddress! + (k * width + x0)
                    let n = row.baseAddress!, out = into.baseAddress! + offset
                    for i in 0..<length {
                        out[i] = T(s[i] * rowCos + cs[i] * rowSin + Double(n[i]))
                    }
                }
            }
        }
    }
}
