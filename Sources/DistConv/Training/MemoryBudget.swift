import Comm
import Foundation

/// The bytes one rank will allocate for training, from its execution plan, before any
/// of it is: the arena (activations, gradients, workspaces at the plan's offsets),
/// parameters with their gradients and optimizer state, layers' saved state and
/// indices. `train` prints it and refuses to start when the ranks on one machine would
/// not fit in its memory.
public struct MemoryBudget: Sendable, Equatable {
    public var arenaBytes: Int
    public var parameterBytes: Int
    public var gradientBytes: Int
    public var optimizerStateBytes: Int
    public var stateBytes: Int
    /// The redistributions' send and receive scratch (allocated on first use), and MPI's
    /// temporaries for the gradient buckets in flight.
    public var exchangeBytes: Int
    /// The largest single buffer of the arena, and its name.
    public var largestBuffer: (name: String, bytes: Int)?

    public var totalBytes: Int { arenaBytes + parameterBytes + gradientBytes + optimizerStateBytes + stateBytes + exchangeBytes }

    public static func == (a: MemoryBudget, b: MemoryBudget) -> Bool {
        a.arenaBytes == b.arenaBytes && a.totalBytes == b.totalBytes
    }

    public init(plan: ExecutionPlan, elementSize: Int, optimizerStates: Int, bucketBytes: Int = 2 << 20) {
        let requests = plan.arenaRequests(elementSize: elementSize)
        arenaBytes = ArenaAllocator.assign(requests).size
        parameterBytes = plan.parameterCount * elementSize
        gradientBytes = parameterBytes
        optimizerStateBytes = parameterBytes * optimizerStates
        stateBytes = plan.stateCount * elementSize + plan.indexCount * 4
        let replicated = plan.parameters.filter(\.replicated).reduce(0) { $0 + $1.rect.volume } * elementSize
        exchangeBytes = plan.exchangeScratchCount * elementSize + min(replicated, Network<Float>.bucketsInFlight * bucketBytes)
        largestBuffer = plan.buffers.max { $0.count < $1.count }.map { ($0.name, $0.count * elementSize) }
    }

    /// Memory the machine has for new allocations (MemAvailable), in bytes.
    public static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// This process's peak resident memory so far (VmHWM), in bytes.
    public static func peakResidentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}

/// Bytes with thousands separators: 2,285,687,712.
public func formatBytes(_ n: Int) -> String { grouped(n) }
