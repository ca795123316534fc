import CMPI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Initialises MPI once per process and finalises it at exit.
final class MPIRuntime: @unchecked Sendable {
    static let shared = MPIRuntime()
    private var started = false
    private var world: Communicator?

    func start() throws(CommError) {
        if started { return }
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            try check(MPI_Init(nil, nil), "MPI_Init", rank: -1)
            atexit {
                var finalized: Int32 = 0
                MPI_Finalized(&finalized)
                if finalized == 0 { MPI_Finalize() }
            }
        }
        try check(
            MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()),
            "MPI_Comm_set_errhandler", rank: -1)
        started = true
    }

    func worldCommunicator() throws(CommError) -> Communicator {
        if let world { return world }
        let w = try Communicator(handle: cmpi_comm_world())
        world = w
        return w
    }
}

enum ProcessInfoLite {
    static var environment: [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                result[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return result
    }
}

func writeStandardError(_ message: String) {
    let line = message.hasSuffix("\n") ? message : message + "\n"
    fflush(nil)
    _ = line.withCString { write(2, $0, strlen($0)) }
}

func exitProcess(_ code: Int32) -> Never { exit(code) }
