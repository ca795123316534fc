import Comm
import Foundation

/// What the machine has and what this process used; the plan of what a rank will
/// allocate is its `RankPlan` (`MemoryPlan.plan(_:partition:options:)`).
public enum MachineMemory {
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
