import CDNNL

/// How an `[n, c, h, w]` activation block is stored.
///
/// - `nchw`: plain row-major `[N, C, H, W]`.
/// - `blocked(b)`: oneDNN's nChw{b}c, `[N, ceil(C/b), H, W, b]`: channel `c` of pixel
///   (y, x) is at `((n * ceil(C/b) + c/b) * H + y) * W + x) * b + c % b`. The padded
///   channels of the last block are held at zero (oneDNN's kernels read them).
///   b is 4, 8 or 16.
///
/// Coordinates (rects, shards) are always logical NCHW; only storage differs.
public enum ActivationLayout: Hashable, Sendable, CustomStringConvertible {
    case nchw
    case blocked(Int)

    /// The layout oneDNN's convolutions are fastest in on this CPU: 16 channels (one
    /// 64-byte vector) with AVX-512, 8 with AVX2, plain NCHW otherwise.
    public static var preferred: ActivationLayout {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        if isa & dnnl_cpu_isa_avx512_core.rawValue == dnnl_cpu_isa_avx512_core.rawValue { return .blocked(16) }
        if isa & dnnl_cpu_isa_avx2.rawValue == dnnl_cpu_isa_avx2.rawValue { return .blocked(8) }
        return .nchw
    }

    /// Channels per block (1 for NCHW).
    public var blockSize: Int {
        switch self {
        case .nchw: return 1
        case .blocked(let b): return b
        }
    }

    /// Channels stored: C rounded up to the block.
    public func paddedChannels(_ c: Int) -> Int {
        let b = blockSize
        return (c + b - 1) / b * b
    }

    /// Elements of an `[n, c, h, w]` block in this layout (padded channels included).
    public func count(n: Int, c: Int, h: Int, w: Int) -> Int { n * paddedChannels(c) * h * w }

    /// The storage offset of logical element (n, c, y, x) of an `[N, C, H, W]` block.
    @inline(__always)
    public func offset(n: Int, c: Int, y: Int, x: Int, channels: Int, height: Int, width: Int) -> Int {
        switch self {
        case .nchw:
            return ((n * channels + c) * height + y) * width + x
        case .blocked(let b):
            let blocks = (channels + b - 1) / b
            return (((n * blocks + c / b) * height + y) * width + x) * b + c % b
        }
    }

    public var description: String {
        switch self {
        case .nchw: return "nchw"
        case .blocked(let b): return "nChw\(b)c"
        }
    }

    /// oneDNN's format tag.
    var tag: dnnl_format_tag_t {
        switch self {
        case .nchw: return dnnl_nchw
        case .blocked(4): return dnnl_nChw4c
        case .blocked(8): return dnnl_nChw8c
        case .blocked(16): return dnnl_nChw16c
        case .blocked(let b): preconditionFailure("channel block \(b) is not 4, 8 or 16")
        }
    }

    /// A dense memory descriptor of an `[n, c, h, w]` Float block.
    func descriptor(n: Int, c: Int, h: Int, w: Int) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims: [Int64] = [Int64(n), Int64(c), Int64(h), Int64(w)]
        dnnlCheck(dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_f32, tag), "memory descriptor \(self) \(dims)")
        return md
    }
}
