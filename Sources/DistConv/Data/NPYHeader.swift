/// The header of a NumPy `.npy` file, versions 1 to 3: the element type, the order and the
/// shape, and where the data starts.
///
/// Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header length
/// (2 bytes little-endian in version 1, 4 in versions 2 and 3), then the header: a Python
/// dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }`
/// padded with spaces and a newline. The data follows it. Reference:
/// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
struct NPYHeader {
    /// The dtype string, e.g. `<f4`, `|u1`.
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]
    /// Byte offset of the first element.
    var dataOffset: Int

    /// Element types the data sets read.
    enum Element {
        case float32, uint8, int32, int64

        var size: Int {
            switch self {
            case .uint8: 1
            case .float32, .int32: 4
            case .int64: 8
            }
        }
    }

    /// Parses the header at the start of `bytes`, the contents of `file`.
    init(_ bytes: UnsafeRawBufferPointer, file: String) throws(DataError) {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 8, bytes.prefix(6).elementsEqual(magic) else {
            throw DataError(file: file, field: "magic", "not a NumPy .npy file (no \\x93NUMPY at the start)")
        }
        let major = Int(bytes[6])
        guard (1...3).contains(major) else {
            throw DataError(file: file, field: "header", "format version \(major).\(bytes[7]), only 1 to 3 are read")
        }
        let lengthSize = major == 1 ? 2 : 4
        guard bytes.count >= 8 + lengthSize else {
            throw DataError(
                file: file, field: "header", "file holds \(bytes.count) bytes, ends inside the header length")
        }
        let length = (0..<lengthSize).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        dataOffset = 8 + lengthSize + length
        guard bytes.count >= dataOffset else {
            throw DataError(
                file: file, field: "header",
                "file holds \(bytes.count) bytes, the header says it ends at byte \(dataOffset) (truncated?)")
        }
        var parser = Parser(text: Array(bytes[(8 + lengthSize)..<dataOffset]), file: file)
        let dict = try parser.dictionary()
        guard case .string(let descr)? = dict["descr"] else {
            throw DataError(
                file: file, field: "dtype",
                "'descr' is \(dict["descr"].map { "\($0)" } ?? "missing"), structured dtypes are not read")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw DataError(file: file, field: "header", "'fortran_order' is missing or not True/False")
        }
        guard case .tuple(let shape)? = dict["shape"] else {
            throw DataError(file: file, field: "shape", "'shape' is missing or not a tuple of integers")
        }
        self.descr = descr
        self.fortranOrder = fortran
        self.shape = shape
    }

    /// The element type of `descr` if it is one of `allowed`. Little-endian (`<`), native
    /// (`=`, little-endian on every platform this builds for) and, for bytes, `|` are read.
    func element(allowed: [Element], file: String) throws(DataError) -> Element {
        let names: [(String, Element)] = [("f4", .float32), ("u1", .uint8), ("i4", .int32), ("i8", .int64)]
        let order = descr.first ?? " "
        let code = String(descr.dropFirst())
        let choices = allowed.compactMap { e in names.first { $0.1 == e }?.0 }.joined(separator: ", ")
        guard let element = names.first(where: { $0.0 == code })?.1, allowed.contains(element) else {
            throw DataError(file: file, field: "dtype", "'\(descr)' is not read here; expected one of \(choices)")
        }
        let littleEndian =
            order == "<" || order == "=" || (order == "|" && element.size == 1)
            || (order == ">" && element.size == 1)
        guard littleEndian else {
            throw DataError(
                file: file, field: "dtype", "'\(descr)' is big-endian or has no byte order; only little-endian is read")
        }
        return element
    }
}
