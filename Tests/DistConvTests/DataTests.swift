import DistConv
import Foundation
import Geometry
import Kernels
import TestSupport
import Testing

// Small IDX and .npy files written byte by byte into a temporary folder; pixels are a
// formula of the global index, so a region load is checked against a known value. The
// helpers are members of the suite, so their short names shadow rather than clash with
// other files' top-level helpers.

extension DataTests {
    /// IDX pixel of sample n, row y, column x.
    private func idxPixel(_ n: Int, _ y: Int, _ x: Int) -> UInt8 { UInt8((n * 37 + y * 11 + x * 5) % 256) }

    /// .npy float pixel of sample n, channel c, row y, column x.
    private func npyPixel(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Float {
        Float(n * 1000 + c * 100 + y * 10 + x) * 0.5 - 7
    }

    private func bigEndian(_ values: [UInt32]) -> [UInt8] {
        values.flatMap { v in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
    }

    private func idx(magic: UInt32, dims: [Int], _ data: [UInt8]) -> [UInt8] {
        bigEndian([magic] + dims.map { UInt32($0) }) + data
    }

    private func idxImages(n: Int, h: Int, w: Int) -> [UInt8] {
        var pixels: [UInt8] = []
        for s in 0..<n { for y in 0..<h { for x in 0..<w { pixels.append(idxPixel(s, y, x)) } } }
        return idx(magic: 0x0803, dims: [n, h, w], pixels)
    }

    private func idxLabels(_ labels: [UInt8]) -> [UInt8] { idx(magic: 0x0801, dims: [labels.count], labels) }

    /// A .npy file: magic, version, header dict padded to a multiple of 64 bytes, data.
    private func npy(
        _ descr: String, shape: [Int], fortran: Bool = false, version: UInt8 = 1, header: String? = nil, _ data: [UInt8]
    ) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var dict =
            header ?? "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': (\(dims)), }"
        let fixed = version == 1 ? 10 : 12
        while (fixed + dict.utf8.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        let n = dict.utf8.count
        let length: [UInt8] =
            version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : (0..<4).map { UInt8((n >> (8 * $0)) & 0xFF) }
        return [0x93] + Array("NUMPY".utf8) + [version, 0] + length + Array(dict.utf8) + data
    }

    private func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    /// A fresh temporary folder, removed when `body` returns.
    private func inTemporaryFolder(_ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distconv-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir)
    }

    @discardableResult
    private func write(_ content: [UInt8], _ dir: URL, _ name: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(content).write(to: url)
        return url.path
    }

    /// `path.gz` from `path` by /bin/gzip; the plain file is kept unless `keep` is false.
    @discardableResult
    private func gzip(_ path: String, keep: Bool = true) throws -> String {
        let result = try runProcess("/bin/gzip", (keep ? ["-k"] : []) + ["-f", "-n", path])
        #expect(result.status == 0, "gzip: \(result.stderr)")
        return path + ".gz"
    }

    private func load(_ data: any ImageDataset, _ samples: [Int], _ region: Rect) -> [Float] {
        var out = [Float](repeating: .nan, count: region.volume)
        out.withUnsafeMutableBufferPointer { data.loadImages(samples: samples, region: region, into: $0) }
        return out
    }

    private func loadDouble(_ data: any ImageDataset, _ samples: [Int], _ region: Rect) -> [Double] {
        var out = [Double](repeating: .nan, count: region.volume)
        out.withUnsafeMutableBufferPointer { data.loadImages(samples: samples, region: region, into: $0) }
        return out
    }

    private func whole(_ data: any ImageDataset, _ n: Int) -> Rect { Rect(shape: [n] + data.imageShape) }

    /// `body` must throw a one-line DataError naming `file` and `field` and holding each fragment.
    private func expectDataError(
        _ file: String, _ field: String, _ fragments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("no error; expected \(field): \(fragments)", sourceLocation: sourceLocation)
        } catch let error as DataError {
            let text = error.description
            #expect(!text.contains("\n"), "\(text)", sourceLocation: sourceLocation)
            #expect(text.hasPrefix("\(file): \(field): "), "\(text)", sourceLocation: sourceLocation)
            #expect(error.file == file && error.field == field, "\(text)", sourceLocation: sourceLocation)
            for f in fragments { #expect(text.contains(f), "\(text)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("not a DataError: \(error)", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct DataTests {
    // MARK: IDX

    @Test(arguments: [false, true]) func idxRegionsAreTheNormalisedPixels(compressed: Bool) throws {
        try inTemporaryFolder { dir in
            var images = try write(idxImages(n: 5, h: 6, w: 7), dir, "images")
            var labels = try write(idxLabels([3, 1, 4, 1, 5]), dir, "labels")
            if compressed { (images, labels) = (try gzip(images, keep: false), try gzip(labels, keep: false)) }
            let data = try IDXDataset(images: images, labels: labels)
            #expect(data.count == 5 && data.imageShape == [1, 6, 7] && data.classes == 10)
            #expect((0..<5).map(data.label) == [3, 1, 4, 1, 5])
            #expect(data.name == images)

            func expected(_ samples: [Int], _ r: Rect) -> [Double] {
                r.points.map { p in
                    (Double(idxPixel(samples[p[0]], p[2], p[3])) / 255 - IDXDataset.fashionMNISTMean)
                        / IDXDataset.fashionMNISTStd
                }
            }
            let samples = [3, 0, 4]
            let all = whole(data, 3)
            let part = Rect(origin: [1, 0, 2, 3], size: [2, 1, 3, 4])
            for r in [all, part, Rect(origin: [2, 0, 5, 6], size: [1, 1, 1, 1])] {
                assertClose(load(data, samples, r), expected(samples, r), rtol: 1e-6, atol: 1e-6, "float \(r)")
                assertClose(loadDouble(data, samples, r), expected(samples, r), rtol: 1e-12, atol: 1e-12, "double \(r)")
            }
            #expect(load(data, samples, Rect(origin: [0, 0, 0, 0], size: [3, 1, 0, 7])).isEmpty)
        }
    }

    @Test func fashionMNISTAcceptsNamesWithAndWithoutGz() throws {
        try inTemporaryFolder { dir in
            try gzip(try write(idxImages(n: 4, h: 3, w: 2), dir, "train-images-idx3-ubyte"), keep: false)
            try gzip(try write(idxLabels([0, 9, 8, 7]), dir, "train-labels-idx1-ubyte"), keep: false)
            try write(idxImages(n: 2, h: 3, w: 2), dir, "t10k-images-idx3-ubyte")
            let testLabels = try write(idxLabels([5, 6]), dir, "t10k-labels-idx1-ubyte")
            let split = try IDXDataset.fashionMNIST(directory: dir.path)
            #expect(split.train.count == 4 && split.test.count == 2 && split.test.imageShape == [1, 3, 2])
            #expect(split.train.name == "fashion-mnist train (\(dir.path))")
            #expect(split.test.name == "fashion-mnist test (\(dir.path))")
            #expect(split.train.label(1) == 9 && split.test.label(1) == 6)

            try FileManager.default.removeItem(atPath: testLabels)
            expectDataError(testLabels + ".gz", "file", ["no such file", "without .gz"]) {
                _ = try IDXDataset.fashionMNIST(directory: dir.path)
            }
        }
    }

    @Test func idxErrorsNameTheFileAndField() throws {
        try inTemporaryFolder { dir in
            let labels = try write(idxLabels([1, 2]), dir, "labels")
            func images(_ content: [UInt8]) throws -> String { try write(content, dir, "images") }
            let good = idxImages(n: 2, h: 3, w: 4)

            var path = try images(bigEndian([0x1234_5678]) + good.dropFirst(4))
            expectDataError(path, "magic", ["0x12345678 is not an IDX magic number", "0x00000803"]) {
                _ = try IDXDataset(images: path, labels: labels)
            }
            path = try images(bigEndian([0x0D03]) + good.dropFirst(4))
            expectDataError(path, "magic", ["0x00000D03", "type 0x0D", "unsigned byte"]) {
                _ = try IDXDataset(images: path, labels: labels)
            }
            path = try images(idxLabels([1, 2]))
            expectDataError(path, "magic", ["0x00000801: 1 dimensions", "pixels have 3"]) {
                _ = try IDXDataset(images: path, labels: labels)
            }
            path = try images(Array(good.prefix(9)))
            expectDataError(path, "header", ["file holds 9 bytes", "needs 16"]) {
                _ = try IDXDataset(images: path, labels: labels)
            }
            path = try images(idx(magic: 0x0803, dims: [2, 0, 4], []))
            expectDataError(path, "header", ["[2, 0, 4]"]) { _ = try IDXDataset(images: path, labels: labels) }
            path = try images(Array(good.dropLast(5)))
            expectDataError(path, "header", ["file holds 19 bytes of pixels, the header promises 24 (truncated?)"]) {
                _ = try IDXDataset(images: path, labels: labels)
            }
            path = try images(good + [0, 0])
            expectDataError(path, "header", ["26 bytes of pixels", "promises 24", "2 bytes too many"]) {
                _ = try IDXDataset(images: path, labels: labels)
            }

            path = try images(good)
            let three = try write(idxLabels([1, 2, 3]), dir, "three")
            expectDataError(three, "labels", ["3 labels for 2 images"]) {
                _ = try IDXDataset(images: path, labels: three)
            }
            let big = try write(idxLabels([1, 10]), dir, "big")
            expectDataError(big, "labels", ["label 10 of sample 1", "10 classes"]) {
                _ = try IDXDataset(images: path, labels: big)
            }
            let missing = dir.appendingPathComponent("missing").path
            expectDataError(missing, "file", ["cannot open", "No such file"]) {
                _ = try IDXDataset(images: missing, labels: labels)
            }
            expectDataError(dir.path, "file", ["not a regular file"]) {
                _ = try IDXDataset(images: dir.path, labels: labels)
            }

            // Compressed: a stream cut short, and a flipped byte in the middle of the blocks.
            let gz = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try gzip(path))))
            let cut = try write(Array(gz.prefix(gz.count / 2)), dir, "cut.gz")
            expectDataError(cut, "gzip", ["truncated?"]) { _ = try IDXDataset(images: cut, labels: labels) }
            var flipped = gz
            for i in 10..<(gz.count - 8) { flipped[i] ^= 0x5A }
            let corrupt = try write(flipped, dir, "corrupt.gz")
            expectDataError(corrupt, "gzip", ["corrupt data"]) { _ = try IDXDataset(images: corrupt, labels: labels) }
        }
    }

    // MARK: NPY

    @Test func npyFloatNCHWRegionsAreTheValues() throws {
        try inTemporaryFolder { dir in
            let (n, c, h, w) = (4, 2, 3, 5)
            var values: [Float] = []
            for s in 0..<n {
                for ci in 0..<c { for y in 0..<h { for x in 0..<w { values.append(npyPixel(s, ci, y, x)) } } }
            }
            let images = try write(npy("<f4", shape: [n, c, h, w], bytes(values)), dir, "x.npy")
            let labels = try write(npy("<i8", shape: [n], bytes([Int64(2), 0, 6, 1])), dir, "y.npy")
            let data = try NPYDataset(images: images, labels: labels, classes: nil)
            #expect(data.count == 4 && data.imageShape == [2, 3, 5] && data.classes == 7)
            #expect((0..<4).map(data.label) == [2, 0, 6, 1])

            let samples = [2, 3, 0]
            for r in [
                whole(data, 3), Rect(origin: [1, 1, 1, 2], size: [2, 1, 2, 3]),
                Rect(origin: [0, 0, 2, 4], size: [1, 2, 1, 1]),
            ] {
                let expected = r.points.map { p in npyPixel(samples[p[0]], p[1], p[2], p[3]) }
                // A copy, not arithmetic: equal bit for bit, in Float and in Double.
                #expect(load(data, samples, r) == expected, "\(r)")
                #expect(loadDouble(data, samples, r) == expected.map(Double.init), "\(r)")
            }
        }
    }

    @Test(arguments: ["<i4", "|u1"]) func npyUInt8NHWScalesToUnit(labelType: String) throws {
        try inTemporaryFolder { dir in
            let (n, h, w) = (3, 4, 6)
            var pixels: [UInt8] = []
            for s in 0..<n { for y in 0..<h { for x in 0..<w { pixels.append(idxPixel(s, y, x)) } } }
            let images = try write(npy("|u1", shape: [n, h, w], version: 2, pixels), dir, "x.npy")
            let labelBytes = labelType == "<i4" ? bytes([Int32(1), 0, 1]) : [1, 0, 1]
            let labels = try write(npy(labelType, shape: [n], version: 3, labelBytes), dir, "y.npy")
            let data = try NPYDataset(images: images, labels: labels, classes: 10)
            #expect(data.imageShape == [1, 4, 6] && data.classes == 10 && data.label(2) == 1)
            let r = Rect(origin: [0, 0, 1, 2], size: [2, 1, 3, 4])
            let expected = r.points.map { p in Double(idxPixel([2, 1][p[0]], p[2], p[3])) / 255 }
            assertClose(load(data, [2, 1], r), expected, rtol: 1e-6, atol: 1e-7, "float")
            assertClose(loadDouble(data, [2, 1], r), expected, rtol: 1e-12, atol: 1e-12, "double")
        }
    }

    @Test func npyErrorsNameTheFileAndField() throws {
        try inTemporaryFolder { dir in
            let floats = bytes([Float](repeating: 1, count: 2 * 3 * 4))
            let goodImages = try write(npy("<f4", shape: [2, 3, 4], floats), dir, "good.npy")
            let goodLabels = try write(npy("<i8", shape: [2], bytes([Int64(0), 1])), dir, "labels.npy")
            func images(
                _ content: [UInt8], _ fragments: [String], field: String,
                sourceLocation: SourceLocation = #_sourceLocation
            ) throws {
                let path = try write(content, dir, "bad.npy")
                expectDataError(path, field, fragments, sourceLocation: sourceLocation) {
                    _ = try NPYDataset(images: path, labels: goodLabels, classes: nil)
                }
            }
            func labels(
                _ content: [UInt8], classes: Int? = nil, _ fragments: [String], field: String,
                sourceLocation: SourceLocation = #_sourceLocation
            ) throws {
                let path = try write(content, dir, "badlabels.npy")
                expectDataError(path, field, fragments, sourceLocation: sourceLocation) {
                    _ = try NPYDataset(images: goodImages, labels: path, classes: classes)
                }
            }

            try images(Array("PK\u{3}\u{4} not numpy".utf8), ["not a NumPy .npy file"], field: "magic")
            try images([0x93] + Array("NUMPY".utf8) + [4, 0, 0, 0], ["version 4.0"], field: "header")
            try images(npy("<f8", shape: [2, 3, 4], floats + floats), ["'<f8' is not read", "f4, u1"], field: "dtype")
            try images(npy(">f4", shape: [2, 3, 4], floats), ["'>f4' is big-endian"], field: "dtype")
            try images(
                npy(
                    "", shape: [], header: "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,), }", floats),
                ["[('x', '<f4')]", "structured"], field: "dtype")
            try images(
                npy("<f4", shape: [2, 3, 4], fortran: true, floats), ["True", "C order"], field: "fortran_order")
            try images(npy("<f4", shape: [2, 12], floats), ["shape [2, 12]"], field: "shape")
            try images(npy("<f4", shape: [1, 2, 1, 3, 4], floats), ["shape [1, 2, 1, 3, 4]"], field: "shape")
            try images(npy("<f4", shape: [2, 0, 4], []), ["shape [2, 0, 4]"], field: "shape")
            try images(
                npy("<f4", shape: [2, 3, 4], Array(floats.dropLast(3))),
                ["file holds 93 bytes of data, the header promises 96", "truncated?"], field: "header")
            try images(
                Array(npy("<f4", shape: [2, 3, 4], floats).prefix(40)),
                ["file holds 40 bytes", "ends at byte 128", "truncated?"], field: "header")
            try images(
                npy("", shape: [], header: "{'descr': '<f4', 'shape': (2, 3, 4) 'fortran_order': False}", floats),
                ["expected '}'"], field: "header")

            try labels(
                npy("<i8", shape: [3], bytes([Int64(0), 1, 2])), ["3 labels for 2 images", goodImages], field: "labels")
            try labels(
                npy("<i4", shape: [2], bytes([Int32(0), -3])), ["label -3 of sample 1 is negative"], field: "labels")
            try labels(
                npy("|u1", shape: [2], [0, 4]), classes: 4, ["label 4 of sample 1", "4 classes"], field: "labels")
            try labels(
                npy("<i8", shape: [2, 1], bytes([Int64(0), 1])), ["shape [2, 1]", "expected [N]"], field: "shape")
            try labels(
                npy("<f4", shape: [2], bytes([Float(0), 1])), ["'<f4' is not read", "i8, i4, u1"], field: "dtype")
            try labels(npy("<i8", shape: [2], bytes([Int64(0)])), ["truncated?"], field: "header")
        }
    }

    // MARK: Synthetic

    @Test func syntheticRegionsAgreeHoweverTheyAreSplit() {
        let data = SyntheticDataset(count: 50, imageShape: [2, 9, 11], classes: 5, seed: 17)
        let samples = [7, 2, 40]
        let full = whole(data, 3)
        let reference = load(data, samples, full)
        #expect(!reference.contains { !$0.isFinite })

        // Blocks of a 2 x 2 x 3 split of (N, H, W), loaded one by one, reassemble the whole.
        var assembled = [Float](repeating: .nan, count: full.volume)
        for (n0, nn) in [(0, 1), (1, 2)] {
            for (h0, hh) in [(0, 4), (4, 5)] {
                for (w0, ww) in [(0, 3), (3, 5), (8, 3)] {
                    let block = Rect(origin: [n0, 0, h0, w0], size: [nn, 2, hh, ww])
                    for (value, p) in zip(load(data, samples, block), block.points) {
                        assembled[((p[0] * 2 + p[1]) * 9 + p[2]) * 11 + p[3]] = value
                    }
                }
            }
        }
        #expect(assembled == reference)

        // The same sample alone, another instance, and the training half of a split agree.
        let again = SyntheticDataset(count: 50, imageShape: [2, 9, 11], classes: 5, seed: 17)
        #expect(load(again, samples, full) == reference)
        #expect(load(data, [40], whole(data, 1)) == Array(reference[(2 * 198)...]))
        let train = SyntheticDataset.split(imageShape: [2, 9, 11], classes: 5, seed: 17, trainCount: 50, testCount: 10)
            .train
        #expect(load(train, samples, full) == reference)
        #expect((0..<50).map(train.label) == (0..<50).map(data.label))
        assertClose(
            load(data, samples, full), loadDouble(data, samples, full), rtol: 1e-6, atol: 1e-6, "float vs double")

        let other = SyntheticDataset(count: 50, imageShape: [2, 9, 11], classes: 5, seed: 18)
        #expect(load(other, samples, full) != reference)
    }

    /// The synthetic data set's formula evaluated value by value, as SyntheticDataset did
    /// before it drew a row's noise in one call (the same Double operations in the same
    /// order, so the row-at-a-time code must give the same bits).
    private func syntheticByValue(
        imageShape: [Int], classes: Int, seed: UInt64, first: Int, samples: [Int], region: Rect
    ) -> [Double] {
        let (channels, height, width) = (imageShape[0], imageShape[1], imageShape[2])
        let (labelStream, sampleStream, noiseStream): (UInt64, UInt64, UInt64) =
            (0x5359_4E54_4C41_4245, 0x5359_4E54_5341_4D50, 0x5359_4E54_4E4F_4953)
        var values: [Double] = []
        for n in region.range(0) {
            let g = UInt64(first + samples[n])
            let k = Int(CounterRandom.bits(seed: seed, stream: labelStream, index: g) % UInt64(classes))
            let angle = Double.pi * Double(k) / Double(classes), frequency = 2 * Double.pi * (1.5 + Double(k % 3))
            let (stepX, stepY) = (frequency * cos(angle) / Double(width), frequency * sin(angle) / Double(height))
            let amplitude = 1 + 0.4 * CounterRandom.uniform(seed: seed, stream: sampleStream, index: 2 * g)
            let phase = 1.2 * CounterRandom.uniform(seed: seed, stream: sampleStream, index: 2 * g + 1) - 0.6
            for c in region.range(1) {
                for y in region.range(2) {
                    let rowPhase = stepY * (Double(y) + 0.5) + phase + 2 * Double.pi * Double(c) / 3
                    let (rowSin, rowCos) = (amplitude * sin(rowPhase), amplitude * cos(rowPhase))
                    for x in region.range(3) {
                        let index = g &* UInt64(channels * height * width) &+ UInt64((c * height + y) * width + x)
                        let bits = CounterRandom.bits(seed: seed, stream: noiseStream, index: index)
                        let sum = Double(bits >> 43) + Double((bits >> 22) & 0x1F_FFFF) + Double((bits >> 1) & 0x1F_FFFF)
                        let column = stepX * (Double(x) + 0.5)
                        values.append(sin(column) * rowCos + cos(column) * rowSin + (sum * 0x1p-21 - 1.5))
                    }
                }
            }
        }
        return values
    }

    @Test func syntheticRowsAreTheValueByValueFormulaBitForBit() {
        // Rows of odd lengths and offsets, whole images, several seeds and both halves of a split.
        let cases: [(shape: [Int], classes: Int, seed: UInt64, samples: [Int], region: Rect)] = [
            ([3, 7, 37], 5, 17, [0, 4, 11], Rect(origin: [0, 0, 0, 0], size: [3, 3, 7, 37])),
            ([3, 7, 37], 5, 17, [9, 2], Rect(origin: [1, 1, 2, 5], size: [1, 2, 4, 29])),
            ([1, 16, 64], 10, 3, [1, 15], Rect(origin: [0, 0, 3, 13], size: [2, 1, 9, 1])),
            ([2, 5, 130], 4, 0xDEAD_BEEF_0123_4567, [7], Rect(origin: [0, 1, 0, 1], size: [1, 1, 5, 128])),
        ]
        for t in cases {
            let split = SyntheticDataset.split(imageShape: t.shape, classes: t.classes, seed: t.seed, trainCount: 20, testCount: 20)
            for (data, first) in [(split.train, 0), (split.test, 20)] {
                let expected = syntheticByValue(
                    imageShape: t.shape, classes: t.classes, seed: t.seed, first: first, samples: t.samples, region: t.region)
                let floats = load(data, t.samples, t.region), doubles = loadDouble(data, t.samples, t.region)
                let floatMisses = zip(floats, expected).filter { $0.bitPattern != Float($1).bitPattern }.count
                let doubleMisses = zip(doubles, expected).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(floats.count == expected.count && floatMisses == 0, "\(data.name) \(t.region): \(floatMisses) floats differ")
                #expect(doubles.count == expected.count && doubleMisses == 0, "\(data.name) \(t.region): \(doubleMisses) doubles differ")
            }
        }
    }

    @Test func syntheticIsUnitScaleAndLearnable() {
        let split = SyntheticDataset.split(
            imageShape: [1, 16, 16], classes: 10, seed: 3, trainCount: 500, testCount: 200)
        let (train, test) = (split.train, split.test)
        #expect(train.count == 500 && test.count == 200 && train.classes == 10 && test.imageShape == [1, 16, 16])
        #expect(train.name == "synthetic train (seed 3)" && test.name == "synthetic test (seed 3)")
        let x = load(train, Array(0..<500), whole(train, 500)).map(Double.init)
        let y = (0..<500).map(train.label)
        #expect(Set(y) == Set(0..<10))
        let mean = x.reduce(0, +) / Double(x.count)
        let std = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)).squareRoot()
        #expect(abs(mean) < 0.1 && std > 0.75 && std < 1.3, "mean \(mean), std \(std)")
        #expect(load(test, [0], whole(test, 1)) != Array(x[0..<256].map(Float.init)))

        // Nearest class mean on raw pixels, far above chance (0.1): a CNN has it easy.
        var centroids = [[Double]](repeating: [Double](repeating: 0, count: 256), count: 10)
        for i in 0..<500 {
            let share = 1 / Double(y.filter { $0 == y[i] }.count)
            for p in 0..<256 { centroids[y[i]][p] += share * x[i * 256 + p] }
        }
        let xt = load(test, Array(0..<200), whole(test, 200)).map(Double.init)
        var correct = 0
        for i in 0..<200 {
            func distance(_ k: Int) -> Double {
                (0..<256).reduce(0) {
                    $0 + (xt[i * 256 + $1] - centroids[k][$1]) * (xt[i * 256 + $1] - centroids[k][$1])
                }
            }
            let nearest = (0..<10).min { distance($0) < distance($1) }
            if nearest == test.label(i) { correct += 1 }
        }
        #expect(correct > 160, "nearest class mean: \(correct) of 200 right")
    }

    // MARK: Epoch order

    @Test func epochOrderIsASeededPermutation() {
        let a = EpochOrder.permutation(count: 1000, seed: 42, epoch: 0)
        #expect(a.sorted() == Array(0..<1000))
        #expect(a == EpochOrder.permutation(count: 1000, seed: 42, epoch: 0))
        let b = EpochOrder.permutation(count: 1000, seed: 42, epoch: 1)
        #expect(b.sorted() == Array(0..<1000) && b != a)
        #expect(EpochOrder.permutation(count: 1000, seed: 43, epoch: 0) != a)
        #expect(a != Array(0..<1000) && zip(a, 0..<1000).filter { $0 == $1 }.count < 10)
        #expect(EpochOrder.permutation(count: 0, seed: 1, epoch: 0) == [])
        #expect(EpochOrder.permutation(count: 1, seed: 1, epoch: 5) == [0])
        // Both orders of two appear over the epochs.
        #expect(Set((0..<20).map { EpochOrder.permutation(count: 2, seed: 9, epoch: $0) }) == [[0, 1], [1, 0]])
    }

    // MARK: The installed data set

    @Test func debianFashionMNIST() throws {
        let dir = IDXDataset.fashionMNISTDirectory
        let labels = dir + "/train-labels-idx1-ubyte.gz", images = dir + "/train-images-idx3-ubyte.gz"
        guard FileManager.default.fileExists(atPath: labels) else {
            print("skipped: \(labels) is missing (apt-get install dataset-fashion-mnist)")
            return
        }
        let split = try IDXDataset.fashionMNIST(directory: dir)
        #expect(split.train.count == 60000 && split.test.count == 10000)
        #expect(split.train.imageShape == [1, 28, 28] && split.test.imageShape == [1, 28, 28])
        #expect(split.train.classes == 10)

        // The first label and image as gzip itself reads them.
        func gunzipped(_ file: String, from: Int, count: Int) throws -> [Int] {
            let script = "gzip -dc '\(file)' | head -c \(from + count) | tail -c \(count) | od -An -v -tu1"
            return try runProcess("/bin/sh", ["-c", script]).stdout.split(whereSeparator: \.isWhitespace).compactMap {
                Int($0)
            }
        }
        #expect(try gunzipped(labels, from: 8, count: 1) == [split.train.label(0)])
        let pixels = try gunzipped(images, from: 16, count: 784)
        #expect(pixels.count == 784)
        let expected = pixels.map { (Double($0) / 255 - IDXDataset.fashionMNISTMean) / IDXDataset.fashionMNISTStd }
        assertClose(load(split.train, [0], whole(split.train, 1)), expected, rtol: 1e-6, atol: 1e-6, "first image")
    }
}
