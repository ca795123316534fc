/// One IDX file (LeCun's MNIST format), gzip-compressed or not, checked and held in memory.
///
/// Layout (all big-endian): a magic number `00 00 TT DD` — TT the element type (0x08 for
/// unsigned bytes, the only one read here), DD the number of dimensions — then DD 32-bit
/// sizes, then the elements row-major. A compressed file is recognised by the gzip magic
/// and inflated once, here; a plain one is mapped. Reference: http://yann.lecun.com/exdb/mnist/
/// Sendable because nothing writes to the bytes after `init`.
struct IDXFile: @unchecked Sendable {
    let path: String
    /// The sizes from the header, each at least 1.
    let dimensions: [Int]
    /// The elements, `dimensions` row-major; points into `store`.
    let elements: UnsafePointer<UInt8>
    private let store: ByteStore

    /// Reads `path`, which must hold unsigned bytes in `rank` dimensions; `what` names the
    /// elements in messages (`pixels`, `labels`).
    init(path: String, rank: Int, what: String) throws(DataError) {
        try self.init(contents: try ByteStore.map(path), path: path, rank: rank, what: what)
    }

    /// Reads the file's bytes `contents` (mapped or in memory); `path` names it in errors.
    init(contents: ByteStore, path: String, rank: Int, what: String) throws(DataError) {
        self.path = path
        store = Gzip.isCompressed(contents.bytes) ? try Gzip.decompress(contents.bytes, file: path) : contents
        let bytes = store.bytes

        let expected = UInt32(0x0800) | UInt32(rank)
        let headerLength = 4 + 4 * rank
        guard bytes.count >= 4 else {
            throw DataError(
                file: path, field: "header", "file holds \(bytes.count) bytes, an IDX header needs \(headerLength)")
        }
        let magic = Self.bigEndian(bytes, at: 0)
        guard magic == expected else {
            let problem: String
            if magic >> 16 != 0 {
                problem = "\(Self.hex(magic)) is not an IDX magic number (expected \(Self.hex(expected)))"
            } else if (magic >> 8) & 0xFF != 0x08 {
                problem =
                    "\(Self.hex(magic)): elements of type \(Self.hex((magic >> 8) & 0xFF, digits: 2)), "
                    + "only 0x08 (unsigned byte) is read (expected \(Self.hex(expected)))"
            } else {
                problem =
                    "\(Self.hex(magic)): \(magic & 0xFF) dimensions, \(what) have \(rank) (expected \(Self.hex(expected)))"
            }
            throw DataError(file: path, field: "magic", problem)
        }
        guard bytes.count >= headerLength else {
            throw DataError(
                file: path, field: "header",
                "file holds \(bytes.count) bytes, the header of \(rank) dimensions needs \(headerLength)")
        }
        dimensions = (0..<rank).map { Int(Self.bigEndian(bytes, at: 4 + 4 * $0)) }
        guard !dimensions.contains(0) else {
            throw DataError(file: path, field: "header", "dimensions \(dimensions) hold no \(what)")
        }
        // Three 32-bit sizes can overflow a 64-bit product.
        var promised = 1
        for d in dimensions {
            let (product, overflow) = promised.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError(file: path, field: "header", "dimensions \(dimensions) overflow") }
            promised = product
        }
        let held = bytes.count - headerLength
        guard held == promised else {
            let hint = held < promised ? " (truncated?)" : " (\(held - promised) bytes too many)"
            throw DataError(
                file: path, field: "header",
                "file holds \(held) bytes of \(what), the header promises \(promised)\(hint)")
        }
        // Non-nil: the file holds at least the header and one element.
        guard let base = bytes.baseAddress else { throw DataError(file: path, field: "header", "no data") }
        elements = (base + headerLength).assumingMemoryBound(to: UInt8.self)
    }

    private static func bigEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }

    /// `0x00000803`: the way the format's documentation writes magic numbers.
    private static func hex(_ value: UInt32, digits width: Int = 8) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
