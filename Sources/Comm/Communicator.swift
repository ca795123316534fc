import CMPI

/// The process's MPI world. MPI is initialised on first use and finalised once at exit;
/// `Communicator` is a class so its handle cannot be copied into two owners.
///
/// This module is the only code that calls CMPI.
public final class Communicator: @unchecked Sendable {
    let handle: MPI_Comm
    /// This process's rank in the communicator.
    public let rank: Int
    /// Number of ranks in the communicator.
    public let size: Int

    init(handle: MPI_Comm) throws(CommError) {
        self.handle = handle
        var r: Int32 = 0
        var s: Int32 = 0
        try check(MPI_Comm_rank(handle, &r), "MPI_Comm_rank", rank: -1)
        try check(MPI_Comm_size(handle, &s), "MPI_Comm_size", rank: -1)
        rank = Int(r)
        size = Int(s)
    }

    /// `MPI_COMM_WORLD`, initialising MPI the first time. Errors are returned, not
    /// fatal (`MPI_ERRORS_RETURN`), so every failure becomes a `CommError`.
    public static func world() throws(CommError) -> Communicator {
        try MPIRuntime.shared.start()
        return try MPIRuntime.shared.worldCommunicator()
    }

    /// True when this process was started by an MPI launcher (mpirun, srun), so that a
    /// command can decide whether to join a job or run alone.
    public static var launchedByMPI: Bool {
        let env = ProcessInfoLite.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMI_SIZE"] != nil || env["PMIX_RANK"] != nil
    }

    /// Waits until every rank has arrived.
    public func barrier() throws(CommError) {
        try check(collective({ MPI_Barrier(handle) }, { MPI_Ibarrier(handle, $0) }), "MPI_Barrier", rank: rank)
    }

    /// The name of the host this rank runs on.
    public func processorName() throws(CommError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        try check(MPI_Get_processor_name(&buffer, &length), "MPI_Get_processor_name", rank: rank)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Ends the whole job with `code`, after printing `message` on this rank's stderr.
    /// Used when one rank fails so the others do not wait for it forever.
    public func abort(code: Int32, message: String) -> Never {
        writeStandardError(message)
        MPI_Abort(handle, code)
        exitProcess(code)
    }
}

/// The MPI library's own version string (e.g. "Open MPI v4.1.4, ..."), first line only.
public func mpiLibraryVersion() -> String {
    var buffer = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
    var length: Int32 = 0
    MPI_Get_library_version(&buffer, &length)
    let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return text.split(separator: "\n").first.map(String.init) ?? text
}

/// Turns an MPI return code into a `CommError` naming the call.
func check(_ code: Int32, _ call: String, rank: Int) throws(CommError) {
    guard code != cmpi_success() else { return }
    var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
    var length: Int32 = 0
    MPI_Error_string(code, &buffer, &length)
    let message = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    throw CommError.mpi(call: call, rank: rank, code: code, message: message)
}
