import Comm
import Foundation
import Kernels
import Synchronization

/// `distconv calibrate`: times this machine's kernels, memory copies and messages into a
/// `MachineProfile`.
///
/// Every rank of the job times the same works at the same moment (a barrier before
/// each), as in training, where the ranks of a node share its memory bandwidth and
/// caches; a work's figure is the slowest rank's median. Each timing repeats the call
/// enough times to last `callSeconds` (so the clock's resolution does not matter), a few
/// times over (`repetitions`), after one untimed warm-up call that also builds oneDNN's
/// primitives, as the runtime's first step does.
public struct Calibration {
    public struct Options: Sendable {
        /// Fewer sample shapes and message sizes: a few seconds.
        public var quick = false
        /// Models whose works (every rank's, under each fixed grid policy at each of
        /// `modelRanks` ranks) are timed too, so a prediction for them finds exact samples.
        public var models: [(model: Model, data: String)] = []
        /// The rank counts of `models`' works.
        public var modelRanks = [1, 2, 4]
        /// Between nodes; not measured (one node), written as given.
        public var interNode = Calibration.typicalInterNode
        /// Timed repetitions per work (the median counts); 5 (3 for calls past 20 ms). Fewer
        /// let one rank's preemption decide a sample when ranks outnumber cores.
        public var repetitions: Int?
        public var callSeconds: Double?
        /// Evict the caches before each timed call (see `time`); `DISTCONV_CALIBRATE_HOT=1`
        /// turns it off, for comparison.
        public var coldCaches = ProcessInfo.processInfo.environment["DISTCONV_CALIBRATE_HOT"] != "1"

        public init() {}
    }

    /// 100 Gb/s InfiniBand (EDR) as MPI sees it: ~2 us per message, ~12 GB/s.
    public static let typicalInterNode = LinkCost(alpha: 2e-6, beta: 1 / 12e9)

    public let options: Options
    public let communicator: Communicator
    /// Called with a line of progress on rank 0 (the work being timed, every 10th).
    public var progress: (String) -> Void = { _ in }

    public init(options: Options, communicator: Communicator) {
        self.options = options
        self.communicator = communicator
    }

    var repetitions: Int { options.repetitions ?? 5 }
    var callSeconds: Double { options.callSeconds ?? (options.quick ? 2e-4 : 2e-3) }

    /// Measures everything and returns the profile (the same on every rank). Collective.
    public func run() throws -> MachineProfile {
        var works = Self.sweepWithLayouts(quick: options.quick)
        for (model, data) in options.models {
            works += try Self.plannedWorks(of: model, data: data, rankCounts: options.modelRanks)
        }
        var seen = Set<KernelWork>()
        works = works.filter { seen.insert($0.work).inserted }
        let samples = try time(works)
        let copy = Self.fit(try copyTimings())
        let pingPong = try messageTimings()
        let intra = pingPong.isEmpty ? LinkCost(alpha: 0, beta: 0) : Self.fit(pingPong)
        return MachineProfile(machine: Self.machineDescription(ranks: communicator.size),
                              ranksPerNode: try ranksPerNode(), threadsPerRank: BLASInfo.threads, copy: copy,
                              intraNode: intra, interNode: options.interNode,
                              synchronisation: try synchronisationTiming(), kernels: samples)
    }

    /// Times `works` on every rank at once; the slowest rank's median per work.
    public func time(_ works: [KernelWork]) throws -> [MachineProfile.Sample] {
        try time(works.map { ($0, nil) })
    }

    /// The same, each convolution reading its `input` layout (nil: its block's).
    func time(_ works: [(work: KernelWork, input: ActivationLayout?)]) throws -> [MachineProfile.Sample] {
        var samples: [MachineProfile.Sample] = []
        for (i, (work, input)) in works.enumerated() {
            if i % 10 == 0 { progress("timing \(i + 1)/\(works.count): \(work)") }
            let trial = try CalibrationTrial.make(work, input: input)
            try communicator.barrier()
            trial.run()
            let once = try communicator.allreduce(Self.seconds { trial.run() }, .max)
            // Every rank repeats the call as often as the slowest needs, so they run together.
            let calls = max(1, min(10_000, Int((callSeconds / max(once, 1e-9)).rounded(.up))))
            // Calls past 20 ms vary little between runs: three repetitions keep the total short.
            var times: [Double] = []
            for _ in 0..<(once > 0.02 ? min(3, repetitions) : repetitions) {
                if options.coldCaches {
                    // In a training step each kernel reads what earlier ones wrote among
                    // megabytes of other tensors: time every call after evicting the
                    // caches (writing 8 MiB, twice an L2), one call at a time.
                    var total = 0.0
                    let calls = min(calls, 5)
                    for _ in 0..<calls {
                        evict()
                        total += Self.seconds { trial.run() }
                    }
                    times.append(total / Double(calls))
                } else {
                    times.append(Self.seconds { for _ in 0..<calls { trial.run() } } / Double(calls))
                }
            }
            let median = times.sorted()[times.count / 2]
            samples.append(MachineProfile.Sample(work: work, seconds: try communicator.allreduce(median, .max)))
        }
        return samples
    }

    /// Writes `evictionBuffer` once over, pushing the trial's buffers out of L1 and L2
    /// (and much of a shared L3).
    func evict() {
        Self.evictionBuffer.withLock { b in
            for i in stride(from: 0, to: b.count, by: 16) { b[i] &+= 1 }
        }
    }

    static let evictionBuffer = Mutex(UnsafeMutableBufferPointer<UInt32>.allocate(capacity: 2 << 20).initialized())

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Least squares of `seconds = alpha + bytes * beta`, each point weighted by the
    /// inverse of its time so that small and large sizes count alike (an unweighted fit
    /// lets the largest message decide alpha). Negative parts clamp to 0.
    static func fit(_ points: [(bytes: Int, seconds: Double)]) -> LinkCost {
        var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for p in points where p.seconds > 0 {
            let w = 1 / (p.seconds * p.seconds), x = Double(p.bytes)
            sw += w; sx += w * x; sy += w * p.seconds; sxx += w * x * x; sxy += w * x * p.seconds
        }
        let det = sw * sxx - sx * sx
        guard det > 0 else { return LinkCost(alpha: sw > 0 ? sy / sw : 0, beta: 0) }
        var beta = (sw * sxy - sx * sy) / det
        var alpha = (sy - beta * sx) / sw
        if beta < 0 { beta = 0; alpha = sy / sw }
        if alpha < 0 { alpha = 0; beta = sxy / sxx }
        return LinkCost(alpha: alpha, beta: beta)
    }

    /// Ranks per node: ranks with the same processor name (compared by a hash), the
    /// fewest on any node.
    func ranksPerNode() throws -> Int {
        let name = try communicator.processorName()
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
        let all = try communicator.allgather(Int(truncatingIfNeeded: hash))
        return all.map { h in all.filter { $0 == h }.count }.min() ?? 1
    }

    /// "Intel(R) Xeon(R) ..., 2 cores, 2 ranks" from /proc/cpuinfo.
    static func machineDescription(ranks: Int) -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return "\(model), \(cores) cores, \(ranks) rank\(ranks == 1 ? "" : "s") timed at once, \(BLASInfo.coreName) BLAS"
    }
}

extension UnsafeMutableBufferPointer where Element == UInt32 {
    func initialized() -> Self {
        initialize(repeating: 0)
        return self
    }
}
