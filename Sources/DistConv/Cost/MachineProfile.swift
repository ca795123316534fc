import Foundation

/// Measured rates of one machine, as `distconv calibrate` writes them: kernel calls
/// timed on sample shapes, memory copies and messages as latency plus bandwidth. The
/// file is JSON:
///
///     {"format": "distconv-profile", "version": 1, "machine": "...",
///      "ranks_per_node": 2, "threads_per_rank": 1,
///      "copy": {"alpha": 1e-6, "beta": 1e-10},
///      "intra_node": {"alpha": 2e-6, "beta": 1e-10}, "inter_node": {"alpha": 5e-6, "beta": 1e-9},
///      "synchronisation": 1e-4,
///      "kernels": [{"kind": "conv_forward", "input": [4, 16, 66, 66], "output": [4, 16, 64, 64],
///                   "window": [3, 3, 1, 1], "groups": 1, "block": 16, "variant": "", "seconds": 1.2e-4}]}
///
/// A work that was measured exactly takes its measured time. Any other takes the rate
/// (work per second, `KernelWork.work`) of the samples of its kind, interpolated in
/// log(work) between the two nearest and held constant past the ends; among them, those
/// of the same block and variant, then the same groups, then the nearest channel counts
/// (input and output, in log) are preferred.
public struct MachineProfile: MachineRates, Codable, Equatable {
    public struct Sample: Codable, Equatable, Sendable {
        public var work: KernelWork
        public var seconds: Double

        public init(work: KernelWork, seconds: Double) {
            self.work = work
            self.seconds = seconds
        }

        enum CodingKeys: String, CodingKey { case seconds }

        public init(from decoder: Decoder) throws {
            work = try KernelWork(from: decoder)
            seconds = try decoder.container(keyedBy: CodingKeys.self).decode(Double.self, forKey: .seconds)
        }

        public func encode(to encoder: Encoder) throws {
            try work.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(seconds, forKey: .seconds)
        }
    }

    public static let format = "distconv-profile"
    public var format: String = Self.format
    public var version: Int = 1
    /// Where it was measured (CPU model, cores), for the reader.
    public var machine: String
    public var ranksPerNode: Int
    public var threadsPerRank: Int
    public var copy: LinkCost
    public var intraNode: LinkCost
    public var interNode: LinkCost
    /// `MachineRates.synchronisation`, measured by `calibrate` (absent in older
    /// profiles: 0).
    public var synchronisationSeconds: Double?
    public var synchronisation: Double { synchronisationSeconds ?? 0 }
    public var kernels: [Sample]

    public init(machine: String, ranksPerNode: Int, threadsPerRank: Int = 1, copy: LinkCost, intraNode: LinkCost,
                interNode: LinkCost, synchronisation: Double? = nil, kernels: [Sample]) {
        synchronisationSeconds = synchronisation
        self.machine = machine
        self.ranksPerNode = ranksPerNode
        self.threadsPerRank = threadsPerRank
        self.copy = copy
        self.intraNode = intraNode
        self.interNode = interNode
        self.kernels = kernels
    }

    enum CodingKeys: String, CodingKey {
        case format, version, machine, copy, kernels
        case ranksPerNode = "ranks_per_node"
        case threadsPerRank = "threads_per_rank"
        case intraNode = "intra_node"
        case interNode = "inter_node"
        case synchronisationSeconds = "synchronisation"
    }

    public func seconds(_ work: KernelWork) -> Double {
        if let exact = kernels.first(where: { $0.work == work }) { return exact.seconds }
        var samples = kernels.filter { $0.work.kind == work.kind && $0.seconds > 0 && $0.work.work > 0 }
        samples = Self.narrowed(samples) { $0.block == work.block && $0.variant == work.variant }
        samples = Self.narrowed(samples) { $0.groups == work.groups }
        // A kernel's speed depends on its channel counts (a 16-channel convolution runs far
        // below a 512-channel one of the same work): interpolate among the samples of the
        // nearest channel counts.
        let channels = Self.channels(work)
        if let nearest = samples.map({ Self.distance(Self.channels($0.work), channels) }).min() {
            samples = samples.filter { Self.distance(Self.channels($0.work), channels) == nearest }
        }
        samples.sort { $0.work.work < $1.work.work }
        guard !samples.isEmpty else { return 0 }
        let x = log(max(work.work, 1))
        let rates = samples.map { (log($0.work.work), $0.work.work / $0.seconds) }
        let rate: Double
        if x <= rates[0].0 {
            rate = rates[0].1
        } else if x >= rates[rates.count - 1].0 {
            rate = rates[rates.count - 1].1
        } else {
            let i = rates.firstIndex { $0.0 >= x }!
            let (x0, r0) = rates[i - 1], (x1, r1) = rates[i]
            rate = x1 == x0 ? r1 : r0 + (r1 - r0) * (x - x0) / (x1 - x0)
        }
        return work.work / rate
    }

    /// The samples that satisfy `rule`, or all of them when none does.
    static func narrowed(_ samples: [Sample], _ rule: (KernelWork) -> Bool) -> [Sample] {
        let kept = samples.filter { rule($0.work) }
        return kept.isEmpty ? samples : kept
    }

    /// Input and output channels (dimension 1 of 4-D shapes; 1 otherwise).
    static func channels(_ w: KernelWork) -> (Double, Double) {
        (Double(w.input.count == 4 ? w.input[1] : 1), Double(w.output.count == 4 ? w.output[1] : 1))
    }

    static func distance(_ a: (Double, Double), _ b: (Double, Double)) -> Double {
        abs(log(a.0 / b.0)) + abs(log(a.1 / b.1))
    }
}
