import Comm
import Foundation

/// One line on stderr when this rank crashes: a Swift trap (SIGILL, SIGTRAP), an abort
/// (SIGABRT: Swift's runtime out of memory, a library's failed check), a bad memory
/// access (SIGSEGV, SIGBUS) or an arithmetic fault (SIGFPE), naming the rank and the
/// step, e.g. `distconv: error: rank 1 crashed at step 3: SIGILL, a Swift trap (...)`.
/// Then the signal takes its default action, so mpirun sees the rank die of it and ends
/// the job. Replaces Open MPI's own handlers (a multi-line backtrace per signal).
///
/// The handler only calls `write`, `signal` and `raise` (async-signal-safe), on text
/// made when it was installed.
public enum CrashSignals {
    nonisolated(unsafe) static var prefix: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var reasons = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 32)
    static let watched: [(Int32, String)] = [
        (SIGILL, "SIGILL, a Swift trap (a failed precondition, fatalError, an overflow or an index out of range)"),
        (SIGTRAP, "SIGTRAP, a Swift trap (a failed precondition, fatalError, an overflow or an index out of range)"),
        (SIGABRT, "SIGABRT, aborted (out of memory, or a failed check in a library)"),
        (SIGSEGV, "SIGSEGV, an invalid memory access"),
        (SIGBUS, "SIGBUS, an invalid memory access"),
        (SIGFPE, "SIGFPE, an arithmetic fault"),
    ]

    /// Installs the handlers for this process, rank `rank` of the job.
    public static func install(rank: Int) {
        prefix = strdup("distconv: error: rank \(rank) crashed at step ")
        reasons.initialize(repeating: nil, count: 32)
        for (signal, reason) in watched {
            reasons[Int(signal)] = strdup(": " + reason + "\n")
            var action = sigaction()
            action.__sigaction_handler.sa_handler = crashHandler
            action.sa_flags = Int32(bitPattern: UInt32(SA_RESETHAND)) | Int32(SA_NODEFER)
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }
}

private func crashHandler(_ signal: Int32) {
    if let prefix = CrashSignals.prefix { _ = write(2, prefix, strlen(prefix)) }
    // The step, in decimal, without allocating.
    var digits: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { raw in
        var n = max(Activity.step, 0)
        var at = raw.count
        repeat {
            at -= 1
            raw[at] = UInt8(48 + n % 10)
            n /= 10
        } while n > 0 && at > 0
        if let base = raw.baseAddress { _ = write(2, base + at, raw.count - at) }
    }
    if signal >= 0 && signal < 32, let reason = CrashSignals.reasons[Int(signal)] { _ = write(2, reason, strlen(reason)) }
    Glibc.signal(signal, SIG_DFL)
    raise(signal)
}
