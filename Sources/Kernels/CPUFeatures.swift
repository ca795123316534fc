import CKernels

/// What this CPU runs of the CKernels loops built for wider instruction sets than the
/// baseline x86-64 Swift compiles for; read once.
enum CPUFeatures {
    /// AVX-512 F and DQ, supported by the CPU and enabled by the OS.
    static let avx512 = distconv_cpu_has_avx512dq() != 0
    static let avx2 = distconv_cpu_has_avx2() != 0
}
