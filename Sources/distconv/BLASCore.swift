import Foundation
import Kernels

#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS 0.3.21 does not recognise every AVX-512 CPU (this project's machines report
/// family 6 model 207) and falls back to its SSE3 "Prescott" kernels, 4-6x slower
/// (bench/run-kernels measures both). When it did so on a CPU with AVX-512 and nobody
/// chose a core type, the process starts again with `OPENBLAS_CORETYPE=SkylakeX`
/// (OpenBLAS reads it only when it loads). A core type set in the environment is always
/// kept; `DISTCONV_KEEP_BLAS_CORE=1` keeps OpenBLAS's own choice.
enum BLASCore {
    static func upgradeIfFellBack() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["DISTCONV_KEEP_BLAS_CORE"] == nil,
              BLASInfo.coreName == "Prescott", cpuHasAVX512()
        else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returned: keep going with the kernels OpenBLAS chose.
    }

    static func cpuHasAVX512() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(set.contains)
    }
}
