import Foundation

/// What a finished child process printed and returned.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let timedOut: Bool
    public let seconds: Double
}

/// The root of this package (the folder holding Package.swift), found from this file.
public let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            return url
        }
    }
    fatalError("no Package.swift above \(#filePath)")
}()

/// The folder with the built executables (`distconv`, `mpi-checks`): the test binary's own.
public let productsDirectory: URL = {
    let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = argv0.deletingLastPathComponent()
    // On Linux the test binary is <products>/<name>.xctest; on macOS it is inside a bundle.
    while dir.path != "/" {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("distconv").path) { return dir }
        dir.deleteLastPathComponent()
    }
    return argv0.deletingLastPathComponent()
}()

/// Runs a program with stdin from /dev/null and kills it (and its process group) after
/// `timeout` seconds.
public func runProcess(
    _ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
    timeout: Double = 120, currentDirectory: URL? = nil
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    for (k, v) in extra { env[k] = v }
    process.environment = env
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let outPipe = Pipe(), errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    let start = Date()
    try process.run()
    // Read both pipes while waiting so a chatty child cannot block on a full pipe.
    final class Box: @unchecked Sendable { var data = Data() }
    let out = Box(), err = Box()
    // Each pipe is read on a thread of its own: the reads block until the child ends,
    // and on Dispatch's shared pool many running children could starve each other.
    let group = DispatchGroup()
    for (box, pipe) in [(out, outPipe), (err, errPipe)] {
        group.enter()
        Thread { box.data = pipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }.start()
    }
    var timedOut = false
    while process.isRunning {
        if Date().timeIntervalSince(start) > timeout {
            timedOut = true
            kill(-process.processIdentifier, SIGKILL)
            process.terminate()
            break
        }
        usleep(20_000)
    }
    process.waitUntilExit()
    _ = group.wait(timeout: .now() + 5)
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: out.data, as: UTF8.self),
        stderr: String(decoding: err.data, as: UTF8.self),
        timedOut: timedOut, seconds: Date().timeIntervalSince(start))
}

/// Runs `program args` on `ranks` local ranks through `launch/local` (which adds the
/// mpirun flags root and oversubscription need).
public func runMPI(
    ranks: Int, _ program: String, _ arguments: [String], timeout: Double = 120,
    environment: [String: String] = [:]
) throws -> ProcessResult {
    let launcher = packageRoot.appendingPathComponent("launch/local").path
    let binary = productsDirectory.appendingPathComponent(program).path
    return try runProcess(
        "/bin/bash", [launcher, "-n", String(ranks), binary] + arguments,
        environment: environment, timeout: timeout)
}

/// Runs a built executable of this package directly (no mpirun).
public func runProduct(
    _ program: String, _ arguments: [String], timeout: Double = 60,
    environment: [String: String] = [:]
) throws -> ProcessResult {
    try runProcess(
        productsDirectory.appendingPathComponent(program).path, arguments,
        environment: environment, timeout: timeout, currentDirectory: packageRoot)
}
