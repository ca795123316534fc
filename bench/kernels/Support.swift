import CBLAS
import Kernels

#if canImport(Glibc)
import Glibc
#endif

struct BenchOptions {
    var runConv = true
    var runLC = true
    var runModel = true
    var runDNNL = true
    var repeats = 5
    var save: String?
    var compare: String?

    init<S: Sequence<String>>(_ args: S) {
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--conv-only": runLC = false; runModel = false; runDNNL = false
            case "--lc-only": runConv = false; runModel = false; runDNNL = false
            case "--model-only": runConv = false; runLC = false; runDNNL = false
            case "--dnnl-only": runConv = false; runLC = false; runModel = false; runDNNL = true
            case "--no-dnnl": runDNNL = false
            case "--repeats": repeats = it.next().flatMap { Int($0) } ?? repeats
            case "--save": save = it.next()
            case "--compare": compare = it.next()
            default:
                print("usage: bench-kernels [--conv-only|--lc-only|--model-only|--dnnl-only|--no-dnnl] [--repeats N] [--save FILE] [--compare FILE]")
                exit(2)
            }
        }
    }
}

/// One line of the final table: a kernel's rate next to sgemm's on the same shapes.
struct Figure {
    var name: String
    var flops: Double
    var kernelSeconds: Double
    var gemmSeconds: Double
    var note: String = ""
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Best times of a kernel and its reference, measured alternately (after one warm-up
/// run of each) so that load from other processes hits both alike.
func bestPair(_ repeats: Int, _ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
    a()
    b()
    var ta = Double.infinity, tb = Double.infinity
    for _ in 0..<repeats {
        var start = now()
        a()
        ta = min(ta, now() - start)
        start = now()
        b()
        tb = min(tb, now() - start)
    }
    return (ta, tb)
}

/// `bestPair` for three bodies, run in turn.
func bestTriple(_ repeats: Int, _ a: () -> Void, _ b: () -> Void, _ c: () -> Void) -> (Double, Double, Double) {
    a()
    b()
    c()
    var ta = Double.infinity, tb = Double.infinity, tc = Double.infinity
    for _ in 0..<repeats {
        var start = now()
        a()
        ta = min(ta, now() - start)
        start = now()
        b()
        tb = min(tb, now() - start)
        start = now()
        c()
        tc = min(tc, now() - start)
    }
    return (ta, tb, tc)
}

/// Best time of `repeats` runs after one warm-up run.
func best(_ repeats: Int, _ body: () -> Void) -> Double {
    body()
    var t = Double.infinity
    for _ in 0..<repeats {
        let start = now()
        body()
        t = min(t, now() - start)
    }
    return t
}

func printMachine() {
    var flags: [String] = []
    var model = "unknown"
    if let f = fopen("/proc/cpuinfo", "r") {
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        while getline(&line, &cap, f) > 0, let l = line {
            let s = String(cString: l)
            if model == "unknown", s.hasPrefix("model name") { model = s.split(separator: ":").last.map { $0.trimmingCharacters() } ?? model }
            if flags.isEmpty, s.hasPrefix("flags") {
                let all = Set(s.split(separator: " ").map { String($0).trimmingCharacters() })
                flags = ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_vnni"]
                    .filter { all.contains($0) }
            }
        }
        free(line)
    }
    print("cpu: \(model)")
    print("vector extensions: \(flags.joined(separator: " "))")
    print("openblas: \(BLASInfo.config)")
    print("openblas core: \(BLASInfo.coreName), threads \(BLASInfo.threads)"
          + (getenv("OPENBLAS_CORETYPE").map { " (OPENBLAS_CORETYPE=\(String(cString: $0)))" } ?? ""))
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self).trimmingCharacters()
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return String(s)
    }
}

func printFigures(_ figures: [Figure]) {
    print("")
    print("figures (one thread; GFLOP/s; sgemm = cblas_sgemm on the same GEMM shapes, same run)")
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return String(r)
    }
    for f in figures {
        let k = f.flops / f.kernelSeconds * 1e-9, g = f.flops / f.gemmSeconds * 1e-9
        print(pad(f.name, 52) + pad("kernel " + fmt(k), 16) + pad("sgemm " + fmt(g), 15)
              + "ratio " + String(Int((k / g * 100).rounded())) + "%" + (f.note.isEmpty ? "" : "  " + f.note))
    }
}

/// Deterministic values in [-1, 1).
func fillRandom(_ p: UnsafeMutableBufferPointer<Float>, seed: UInt64) {
    var s = seed
    for i in p.indices {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        p[i] = Float(z >> 40) / Float(1 << 23) - 1
    }
}

func allocate(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
    let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
    p.initialize(repeating: 0)
    return p
}

/// Saves the sampled results and figures of this run, or compares them with a saved
/// run's: the check that another OpenBLAS core type computes the same numbers, and how
/// much faster it is.
func compareOrSave(_ checks: [String: [Float]], figures: [Figure], options: BenchOptions) {
    func key(_ name: String) -> String { name.replacingSpaces() }
    if let path = options.save, let f = fopen(path, "w") {
        for (name, values) in checks.sorted(by: { $0.key < $1.key }) {
            fputs("result " + name + " " + values.map { String($0.bitPattern) }.joined(separator: " ") + "\n", f)
        }
        for fig in figures {
            fputs("figure \(key(fig.name)) \(fig.flops / fig.kernelSeconds * 1e-9) \(fig.flops / fig.gemmSeconds * 1e-9)\n", f)
        }
        fclose(f)
    }
    guard let path = options.compare else { return }
    guard let f = fopen(path, "r") else { print("compare: cannot open \(path)"); return }
    defer { fclose(f) }
    var line: UnsafeMutablePointer<CChar>?
    var cap = 0
    var worst = 0.0
    var compared = 0
    print("")
    print("against the saved run (\(path)):")
    while getline(&line, &cap, f) > 0, let l = line {
        let parts = String(cString: l).trimmingCharacters().split(separator: " ").map(String.init)
        guard parts.count >= 2 else { continue }
        if parts[0] == "figure", parts.count == 4, let k = Double(parts[2]), let g = Double(parts[3]),
           let mine = figures.first(where: { key($0.name) == parts[1] }) {
            let mk = mine.flops / mine.kernelSeconds * 1e-9, mg = mine.flops / mine.gemmSeconds * 1e-9
            print("  \(mine.name): kernel \(round1(k)) -> \(round1(mk)) GFLOP/s (x\(round2(mk / k))), "
                  + "sgemm \(round1(g)) -> \(round1(mg)) (x\(round2(mg / g)))")
            continue
        }
        guard parts[0] == "result", let mine = checks[parts[1]] else { continue }
        let theirs = parts.dropFirst(2).compactMap { UInt32($0) }.map { Float(bitPattern: $0) }
        guard theirs.count == mine.count else { print("  \(parts[1]): \(theirs.count) values, expected \(mine.count)"); continue }
        var scale = 0.0, diff = 0.0
        for v in theirs { scale = max(scale, Double(abs(v))) }
        for (a, b) in zip(mine, theirs) { diff = max(diff, Double(abs(a - b))) }
        let rel = diff / max(scale, 1e-30)
        print("  result \(parts[1]): max |difference| / max |value| = \(rel) over \(mine.count) values")
        worst = max(worst, rel)
        compared += 1
    }
    free(line)
    print("  \(compared) results compared, worst relative difference \(worst): "
          + (compared > 0 && worst <= 1e-5 ? "same results (to float32 rounding)" : "DIFFERENT results"))
}

func round1(_ v: Double) -> String { String((v * 10).rounded() / 10) }
func round2(_ v: Double) -> String { String((v * 100).rounded() / 100) }

extension String {
    func replacingSpaces() -> String { String(map { $0 == " " ? "-" : $0 }) }
}

/// sgemm on a large square problem, the machine's single-thread peak for context.
func benchPeak() {
    let m = 1024
    let a = allocate(m * m), b = allocate(m * m), c = allocate(m * m)
    fillRandom(a, seed: 21); fillRandom(b, seed: 22)
    guard let ap = a.baseAddress, let bp = b.baseAddress, let cp = c.baseAddress else { return }
    let t = best(3) {
        Float.gemm(transA: false, transB: false, m: m, n: m, k: m, alpha: 1, ap, lda: m, bp, ldb: m, beta: 0, cp, ldc: m)
    }
    print("sgemm \(m)x\(m)x\(m) (peak for context): \(round1(2 * Double(m * m * m) / t * 1e-9)) GFLOP/s")
    for p in [a, b, c] { p.deallocate() }
}
