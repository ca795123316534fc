import Foundation
import TestSupport

/// Small files the integration tests train on and corrupt.
enum Fixtures {
    /// A fresh temporary folder, removed when the test process exits.
    static func folder(_ name: String) -> String {
        TemporaryFolders.make(name)
    }

    /// An .npy file (version 1) with `descr`, `shape` and the raw bytes `body`.
    static func npy(_ path: String, descr: String, shape: [Int], body: Data) {
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", ")),), }"
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.utf8.count % 256), UInt8(text.utf8.count / 256)])
        data.append(Data(text.utf8))
        data.append(body)
        FileManager.default.createFile(atPath: path, contents: data)
    }

    /// `count` 28x28 uint8 images whose class is a bright band's position, and their
    /// labels (int64): a learnable task small enough for an epoch of a few steps.
    static func bandImages(count: Int, in dir: String) -> (images: String, labels: String) {
        var pixels = Data(count: count * 784)
        var labels = Data()
        for i in 0..<count {
            let label = (i * 7) % 10
            for y in 0..<28 {
                for x in 0..<28 {
                    let band = (x / 3) == label ? 200 : 0
                    pixels[i * 784 + y * 28 + x] = UInt8((band + (i * 31 + y * 17 + x * 13) % 50) % 256)
                }
            }
            var l = Int64(label).littleEndian
            labels.append(Data(bytes: &l, count: 8))
        }
        let images = dir + "/images.npy", labelPath = dir + "/labels.npy"
        npy(images, descr: "|u1", shape: [count, 28, 28], body: pixels)
        npy(labelPath, descr: "<i8", shape: [count], body: labels)
        return (images, labelPath)
    }
}
