import CBLAS

/// What OpenBLAS says about itself: its build configuration (version first) and the
/// core type whose kernels it chose for this CPU.
public enum BLASInfo {
    /// e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    public static var config: String { openblas_get_config().map { String(cString: $0) } ?? "unknown" }
    /// e.g. "Zen" or "SkylakeX".
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }
    /// Threads OpenBLAS will use for one call.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
