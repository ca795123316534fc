import Foundation

/// Where a step's time goes on this rank: seconds per category (an op kind's forward or
/// backward, exchanges, the gradient allreduce's wait, data, optimizer), summed over the
/// steps since the last reset. Read by `bench/run-train` and `--metrics`.
public struct StepTimer: Sendable {
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var order: [String] = []
    public var enabled = true

    public init() {}

    @inline(__always)
    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    public mutating func add(_ category: String, since start: Double) {
        guard enabled else { return }
        let dt = Self.now() - start
        if seconds[category] == nil { order.append(category) }
        seconds[category, default: 0] += dt
    }

    public mutating func reset() {
        seconds = [:]
        order = []
    }
}
