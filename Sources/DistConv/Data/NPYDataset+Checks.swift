extension NPYDataset {
    static func checkOrder(_ header: NPYHeader, file: String) throws(DataError) {
        guard !header.fortranOrder else {
            throw DataError(
                file: file, field: "fortran_order", "True; only C order is read (np.ascontiguousarray first)")
        }
    }

    /// The element count of `shape`, after checking that `store` holds that many elements
    /// of `size` bytes after the header.
    static func checkLength(
        _ header: NPYHeader, shape: [Int], size: Int, store: ByteStore, file: String
    ) throws(DataError) -> Int {
        var volume = 1
        for d in shape + [size] {
            let (product, overflow) = volume.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError(file: file, field: "shape", "shape \(shape) overflows") }
            volume = product
        }
        let held = store.bytes.count - header.dataOffset
        guard held >= volume else {
            throw DataError(
                file: file, field: "header",
                "file holds \(held) bytes of data, the header promises \(volume) (shape \(shape) of '\(header.descr)') (truncated?)"
            )
        }
        return volume / size
    }

    /// The labels of `file`: shape `[count]`, int64, int32 or uint8, none negative.
    static func readLabels(_ store: ByteStore, file: String, count: Int, imagesPath: String) throws(DataError) -> [Int] {
        let header = try NPYHeader(store.bytes, file: file)
        let element = try header.element(allowed: [.int64, .int32, .uint8], file: file)
        try checkOrder(header, file: file)
        guard header.shape.count == 1 else {
            throw DataError(file: file, field: "shape", "labels of shape \(header.shape); expected [N]")
        }
        guard header.shape[0] == count else {
            throw DataError(
                file: file, field: "labels", "\(header.shape[0]) labels for \(count) images in \(imagesPath)")
        }
        _ = try checkLength(header, shape: header.shape, size: element.size, store: store, file: file)
        guard let base = store.bytes.baseAddress else { throw DataError(file: file, field: "header", "no data") }
        let data = base + header.dataOffset
        let labels: [Int] = (0..<count).map { i in
            switch element {
            case .int64: Int(data.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
            case .int32: Int(data.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            default: Int(data.load(fromByteOffset: i, as: UInt8.self))
            }
        }
        if let i = labels.firstIndex(where: { $0 < 0 }) {
            throw DataError(file: file, field: "labels", "label \(labels[i]) of sample \(i) is negative")
        }
        return labels
    }
}
