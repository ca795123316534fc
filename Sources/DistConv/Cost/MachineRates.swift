/// How long things take on one machine: local kernels, memory copies and messages. The
/// cost model (`StepCostModel`) asks only this; `MachineProfile` (written by
/// `distconv calibrate`) is the measured one, tests build simple tables by hand.
public protocol MachineRates: Sendable {
    /// Seconds one rank takes for one kernel call, with `ranksPerNode` ranks running at
    /// once on the node (they share memory bandwidth).
    func seconds(_ work: KernelWork) -> Double
    /// Packing or unpacking `bytes` of halo into contiguous message buffers, per call.
    var copy: LinkCost { get }
    /// A message between two ranks of one node, and between nodes.
    var intraNode: LinkCost { get }
    var interNode: LinkCost { get }
    /// Ranks that share a node (and its link); ranks `r` and `q` are on one node when
    /// `r / ranksPerNode == q / ranksPerNode`, as mpirun's default by-slot mapping places them.
    var ranksPerNode: Int { get }
    /// Seconds a rank loses, on average, at each point where it waits for others (an
    /// exchange with messages, the gradient allreduce's end, a statistics gather): ranks
    /// that computed the same work do not arrive together (a busy host's preemptions, a
    /// slower core, ranks sharing cores), and the step is the last one's.
    var synchronisation: Double { get }
}

extension MachineRates {
    public var synchronisation: Double { 0 }
}

/// Latency plus bandwidth: `alpha + bytes * beta` seconds.
public struct LinkCost: Hashable, Sendable, Codable {
    /// Seconds per message.
    public var alpha: Double
    /// Seconds per byte.
    public var beta: Double

    public init(alpha: Double, beta: Double) {
        self.alpha = alpha
        self.beta = beta
    }

    public func seconds(bytes: Int) -> Double { bytes == 0 ? 0 : alpha + Double(bytes) * beta }
}
