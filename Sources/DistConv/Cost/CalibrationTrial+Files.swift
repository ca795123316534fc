import Foundation

/// Small data set files, in memory, for timing the IDX and npy readers on a shard's shape.
extension CalibrationTrial {
    /// An IDX images file (magic 0x00000803, big-endian sizes, one byte per pixel).
    static func idxImages(count: Int, height: Int, width: Int) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 8, 3]
        for d in [count, height, width] { bytes += bigEndian(d) }
        bytes += (0..<(count * height * width)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        return bytes
    }

    /// An IDX labels file (magic 0x00000801), labels 0...9.
    static func idxLabels(count: Int) -> [UInt8] {
        [0, 0, 8, 1] + bigEndian(count) + (0..<count).map { UInt8($0 % 10) }
    }

    /// A version 1.0 npy file of float32 images `[count] + shape`.
    static func npyImages(count: Int, shape: [Int]) -> [UInt8] {
        let n = ([count] + shape).reduce(1, *)
        var data = [UInt8](repeating: 0, count: 4 * n)
        for i in 0..<n {
            withUnsafeBytes(of: (Float(i % 255) / 255).bitPattern.littleEndian) { data.replaceSubrange((4 * i)..<(4 * i + 4), with: $0) }
        }
        return npyHeader(descr: "<f4", shape: [count] + shape) + data
    }

    /// A npy file of int64 labels 0...9.
    static func npyLabels(count: Int) -> [UInt8] {
        var data: [UInt8] = []
        for i in 0..<count { withUnsafeBytes(of: Int64(i % 10).littleEndian) { data += $0 } }
        return npyHeader(descr: "<i8", shape: [count]) + data
    }

    private static func npyHeader(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        // Magic, version, length (10 bytes) and the dict end on a multiple of 64, newline last.
        while (10 + dict.utf8.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        let length = UInt16(dict.utf8.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(dict.utf8)
    }

    private static func bigEndian(_ v: Int) -> [UInt8] {
        [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) }
    }
}
