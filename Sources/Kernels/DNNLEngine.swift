import CDNNL
#if canImport(Glibc)
import Glibc
#endif

// oneDNN's CPU engine and stream, one of each per process. Kernels run on the thread
// that calls them; a stream is not for concurrent use, so calls into the DNNL* kernels
// come from one thread at a time (the runtime's compute thread).

/// The process's oneDNN engine and stream, and its thread count.
public final class DNNLEngine: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    /// Created on first use. Without `OMP_NUM_THREADS` in the environment oneDNN would
    /// use every core, and each MPI rank would oversubscribe them; one thread per rank is
    /// the default (set for the thread that first uses the engine: OpenMP's count is per
    /// calling thread, and libgomp read the environment when it was loaded), `setThreads`
    /// changes it. Launch scripts set `OMP_NUM_THREADS=1` as they set OpenBLAS's.
    public static let shared = DNNLEngine()

    private init() {
        var e: dnnl_engine_t?
        dnnlCheck(dnnl_engine_create(&e, dnnl_cpu, 0), "engine")
        var s: dnnl_stream_t?
        dnnlCheck(dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue), "stream")
        engine = e!
        stream = s!
        if getenv("OMP_NUM_THREADS") == nil { _ = distconv_omp_set_num_threads(1) }
    }

    /// Sets the number of OpenMP threads oneDNN's kernels use on the calling thread (the
    /// `--threads` flag). Returns false when no OpenMP runtime is loaded.
    @discardableResult
    public static func setThreads(_ count: Int) -> Bool {
        precondition(count >= 1, "oneDNN threads \(count) must be >= 1")
        _ = shared
        return distconv_omp_set_num_threads(Int32(count)) != 0
    }

    /// The number of threads the next kernel will use (0 without an OpenMP runtime).
    public static var threads: Int {
        _ = shared
        return Int(distconv_omp_get_max_threads())
    }

    /// The instruction set oneDNN's kernels use on this CPU.
    public static var instructionSet: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_sse41: return "sse41"
        default: return "other"
        }
    }

    /// Waits for the stream (the CPU stream runs primitives synchronously; this is the
    /// point after which outputs may be read).
    func wait() { dnnlCheck(dnnl_stream_wait(stream), "stream wait") }
}

/// Stops with the status and what was being done: oneDNN fails here only when distconv
/// passes it inconsistent descriptors or memory runs out, never on user input (shapes
/// are checked before, and unsupported ones throw at construction).
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN \(what()): status \(status.rawValue)")
}
