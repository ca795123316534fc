import Comm
import Foundation

/// A fault injected on purpose, for the failure tests only:
/// `DISTCONV_TEST_FAULT=RANK:STEP:KIND[:OP]`, read once when the job starts (like
/// `DISTCONV_TEST_CHECKPOINT_PAUSE_MS`). Rank RANK, just before optimizer step STEP
/// (counted from 1), does KIND:
/// - `throw`: an error reaches the training loop, which ends the job as any error there
///   does (one line naming the rank, then `MPI_Abort`);
/// - `trap`: a failed precondition (SIGILL);
/// - `oom`: an allocation larger than the machine (Swift's runtime aborts, SIGABRT);
/// - `kill`: SIGKILL to itself; `stop`: SIGSTOP to itself (a stall);
/// - `nan`: one element of op OP's first parameter (default: the first op with one)
///   becomes NaN on this rank.
///
/// With `DISTCONV_TEST_FAULT_LOG=FILE` the rank first writes the wall-clock time (seconds
/// since 1970) into FILE, so that a test measures the time from the fault to the end.
public struct TestFault: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case `throw`, trap, oom, kill, stop, nan }
    public var rank: Int
    public var step: Int
    public var kind: Kind
    public var op: String?

    public static let variable = "DISTCONV_TEST_FAULT"

    /// The fault the environment asks for, if any; a malformed value is a flag error.
    public static func fromEnvironment() throws -> TestFault? {
        guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else { return nil }
        return try parse(text)
    }

    public static func parse(_ text: String) throws -> TestFault {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (3...4).contains(parts.count), let rank = Int(parts[0]), rank >= 0, let step = Int(parts[1]), step >= 1,
              let kind = Kind(rawValue: parts[2])
        else {
            throw TrainingError.invalid(
                "\(variable) is '\(text)'; it must be RANK:STEP:KIND[:OP] with KIND one of "
                    + Kind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return TestFault(rank: rank, step: step, kind: kind, op: parts.count == 4 ? parts[3] : nil)
    }

    struct Injected: Error, CustomStringConvertible {
        let step: Int
        var description: String { "\(TestFault.variable): an error thrown in the training loop at step \(step)" }
    }

    /// Does the fault when this is its rank and `step` (from 1) is its step.
    func fire<T: RuntimeScalar>(step: Int, network: Network<T>) {
        guard step == self.step, network.communicator.rank == rank else { return }
        if let log = ProcessInfo.processInfo.environment["DISTCONV_TEST_FAULT_LOG"] {
            _ = FileManager.default.createFile(atPath: log, contents: Data("\(Date().timeIntervalSince1970)\n".utf8))
        }
        switch kind {
        case .throw:
            do { throw Injected(step: step) } catch { network.communicator.abort(error) }
        case .trap:
            precondition(step != self.step, "\(TestFault.variable): a trap at step \(step)")
        case .oom:
            // More than any address space: the allocation fails whatever the overcommit policy.
            let bytes = 1 << 60
            let block = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            block.storeBytes(of: 1, as: UInt8.self)
            block.deallocate()
        case .kill:
            kill(getpid(), SIGKILL)
        case .stop:
            kill(getpid(), SIGSTOP)
        case .nan:
            let shard = network.parameters.first { p in op.map { p.spec.name.hasPrefix($0 + ".") } ?? true }
            if let shard, !shard.value.isEmpty { shard.value[0] = T.nan }
        }
    }
}
