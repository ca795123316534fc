import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whether whoever reads rank 0's stdout sees a terminal, so a live progress line can be
/// redrawn in place. Under mpirun a rank's stdout is always a pseudo-terminal that Open
/// MPI opened (isatty says yes even when mpirun's output goes to a file); what counts
/// there is mpirun's own stdout, the rank's parent's. A rank started by a remote daemon
/// (or by srun) sees the daemon's stdout, not a terminal: plain lines.
func stdoutIsTerminal() -> Bool {
    let env = ProcessInfo.processInfo.environment
    guard isatty(1) == 1, env["TERM"] != "dumb" else { return false }
    guard env["OMPI_COMM_WORLD_RANK"] != nil || env["PMIX_RANK"] != nil || env["PMI_RANK"] != nil else { return true }
    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(getppid())/fd/1") else {
        return false
    }
    return target.hasPrefix("/dev/pts/") || target.hasPrefix("/dev/tty")
}
