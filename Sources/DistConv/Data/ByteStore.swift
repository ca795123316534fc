#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Read-only bytes that stay put for the life of the object: a file mapped into memory
/// (`map`), or a heap block handed over by the gzip reader. Data sets keep one and read
/// from it on any thread; nothing writes to it after it is made.
///
/// Mapping rather than reading means a rank that loads only its rect of a large image
/// touches only the pages holding that rect.
final class ByteStore: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let owner: Owner

    private enum Owner { case mapping, heap, none }

    private init(bytes: UnsafeRawBufferPointer, owner: Owner) {
        self.bytes = bytes
        self.owner = owner
    }

    /// Takes over `count` bytes at `pointer`, allocated with `malloc`; frees them at the end.
    convenience init(malloced pointer: UnsafeMutableRawPointer, count: Int) {
        self.init(bytes: UnsafeRawBufferPointer(start: pointer, count: count), owner: .heap)
    }

    /// A copy of `bytes` on the heap: the in-memory twin of `map`, for bytes that come from
    /// somewhere other than a file (tests, fuzzing, a network read).
    static func copying(_ bytes: some Collection<UInt8>) throws(DataError) -> ByteStore {
        guard !bytes.isEmpty else { return ByteStore(bytes: UnsafeRawBufferPointer(start: nil, count: 0), owner: .none) }
        guard let base = malloc(bytes.count) else {
            throw DataError(file: "memory", field: "file", "cannot allocate \(bytes.count) bytes")
        }
        UnsafeMutableRawBufferPointer(start: base, count: bytes.count).copyBytes(from: bytes)
        return ByteStore(malloced: base, count: bytes.count)
    }

    /// The whole file at `path`, mapped read-only. An empty file gives zero bytes.
    static func map(_ path: String) throws(DataError) -> ByteStore {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DataError(file: path, field: "file", "cannot open: \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DataError(file: path, field: "file", "cannot stat: \(errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw DataError(file: path, field: "file", "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { return ByteStore(bytes: UnsafeRawBufferPointer(start: nil, count: 0), owner: .none) }
        // The mapping outlives the descriptor (POSIX), so the file closes here.
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
            base != UnsafeMutableRawPointer(bitPattern: -1)  // MAP_FAILED
        else { throw DataError(file: path, field: "file", "cannot map \(size) bytes: \(errnoText())") }
        return ByteStore(bytes: UnsafeRawBufferPointer(start: base, count: size), owner: .mapping)
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        switch owner {
        case .mapping: munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        case .heap: free(UnsafeMutableRawPointer(mutating: base))
        case .none: break
        }
    }
}

/// The C library's text for the current `errno`.
func errnoText() -> String { String(cString: strerror(errno)) }
