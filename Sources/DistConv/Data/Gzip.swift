import CZlib

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading gzip-compressed files (RFC 1952) into memory, through zlib.
enum Gzip {
    /// True when `bytes` start with the gzip magic `1f 8b`.
    static func isCompressed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// The decompressed contents of `input`, the bytes of `file` (named in errors).
    ///
    /// Concatenated members (what `cat a.gz b.gz` makes) are read as one stream, as gzip
    /// does; bytes after the last member that are not another member are ignored. A stream
    /// that ends before its last block is an error, as is a bad CRC or corrupt data.
    static func decompress(_ input: UnsafeRawBufferPointer, file: String) throws(DataError) -> ByteStore {
        guard let inputBase = input.baseAddress else { throw DataError(file: file, field: "gzip", "empty file") }
        var stream = z_stream()
        // windowBits 15 + 32: the largest window, and detect the gzip (or zlib) header.
        let status = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw DataError(file: file, field: "gzip", "zlib inflateInit2 failed (\(status))") }
        defer { inflateEnd(&stream) }

        // The trailer holds the length mod 2^32: the exact size for files under 4 GiB. One
        // byte more, so that inflate finishes with room left and the buffer never grows.
        // Deflate expands at most 1032:1, which bounds the guess when the trailer is garbage
        // (a truncated file).
        var capacity = 1 << 16
        if input.count >= 18 {
            let t = input.count - 4
            let size = Int(input[t]) | Int(input[t + 1]) << 8 | Int(input[t + 2]) << 16 | Int(input[t + 3]) << 24
            capacity = max(capacity, min(size, 1032 * input.count) + 1)
        }
        guard var output = malloc(capacity) else {
            throw DataError(file: file, field: "gzip", "cannot allocate \(capacity) bytes")
        }
        var produced = 0
        var fed = 0  // input bytes handed to zlib so far
        do throws(DataError) {
            while true {
                if stream.avail_in == 0 && fed < input.count {
                    let chunk = min(input.count - fed, Int(UInt32.max))
                    stream.next_in = UnsafeMutablePointer(
                        mutating: (inputBase + fed).assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(chunk)
                    fed += chunk
                }
                if produced == capacity {
                    capacity *= 2
                    guard let grown = realloc(output, capacity) else {
                        throw DataError(file: file, field: "gzip", "cannot allocate \(capacity) bytes")
                    }
                    output = grown
                }
                let room = min(capacity - produced, Int(UInt32.max))
                stream.next_out = (output + produced).assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(room)
                let result = inflate(&stream, Z_NO_FLUSH)
                produced += room - Int(stream.avail_out)
                let left = Int(stream.avail_in) + (input.count - fed)
                switch result {
                case Z_STREAM_END:
                    let next = input.count - left
                    guard left >= 2, input[next] == 0x1F, input[next + 1] == 0x8B else {
                        // Give back what doubling over-allocated (realloc keeps the block if it cannot).
                        if capacity > produced + produced / 8, let shrunk = realloc(output, max(produced, 1)) {
                            output = shrunk
                        }
                        return ByteStore(malloced: output, count: produced)
                    }
                    inflateReset(&stream)
                case Z_OK:
                    continue
                case Z_BUF_ERROR where left == 0:
                    throw DataError(
                        file: file, field: "gzip",
                        "the stream ends after \(input.count) compressed bytes (\(produced) decompressed) (truncated?)")
                case Z_BUF_ERROR:
                    continue
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(result)"
                    throw DataError(
                        file: file, field: "gzip", "corrupt data after \(produced) decompressed bytes: \(message)")
                }
            }
        } catch {
            free(output)
            throw error
        }
    }
}
