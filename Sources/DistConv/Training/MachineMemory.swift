import Foundation

/// What the machine has and what this process used; the plan of what a rank will
/// allocate is its `RankPlan` (`MemoryPlan.plan(_:partition:options:)`).
public enum MachineMemory {
    /// Memory the machine has for new allocations (MemAvailable), in bytes.
    public static func availableBytes() -> Int? { kilobytes("/proc/meminfo", "MemAvailable:") }

    /// This process's peak resident memory so far (VmHWM), in bytes.
    public static func peakResidentBytes() -> Int? { kilobytes("/proc/self/status", "VmHWM:") }

    /// The `KEY: N kB` line of a /proc file, in bytes.
    static func kilobytes(_ file: String, _ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix(key) }
        return line?.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
    }
}

/// Bytes with thousands separators: 2,285,687,712.
public func formatBytes(_ n: Int) -> String { grouped(n) }
