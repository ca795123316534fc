import Comm
import Geometry
import Kernels

/// What one rank allocates and runs for one training step of a partitioned model: every
/// buffer with its size and lifetime, and for every op the buffers it reads and writes
/// and the redistributions that bring its input and take its input gradient back.
/// Pure (no MPI, no memory): the network binds it to an arena, and tests read it.
///
/// Time is counted in steps: the data op at 0, forward op `i` at `i`, its backward at
/// `2F - 1 - i` (F ops), the optimizer at `2F`.
///
/// Buffers, per tensor X written by op P and read by op C:
/// - X's value, over P's write rect on this rank (what P's kernel writes);
/// - X at C's input rect, when C reads anything else than every rank's write rect
///   (a halo, a layout change, partial sums to add): filled by one redistribution
///   before C runs, copy mode (accumulate for partial sums). A tensor whose read and
///   write layouts differ wholesale (spatial -> batch) thus has two buffers, never the
///   bounding box of both;
/// - X's gradient over P's write rect, and where C read X elsewhere, C's input gradient
///   over its input rect, taken back by the mirror redistribution (accumulate, the
///   reverse halo; copy for partial sums, whose gradient every writer needs whole).
/// Inputs loaded from the data set go straight into their consumers' input rects.
///
/// Storage layout is a property of each buffer, decided once here: with oneDNN's kernels
/// activations are kept blocked (`ActivationLayout.preferred`, nChw16c with AVX-512) from
/// the first layer that produces that layout to the first that takes only NCHW (each
/// layer type says which it takes: `LayerPartitioning.layouts`), with one reorder where
/// the layout changes. Regions stay logical NCHW; a blocked buffer stores its region's
/// padded channel blocks, and its exchanges move 5-D boxes `[N, C/b, H, W, b]`.
public struct ExecutionPlan: Sendable {
    /// The kernel library a plan is built for: oneDNN (Float) with activations in a
    /// layout where the layers take it, or the reference kernels (any element type, the
    /// Double gradient check), all NCHW.
    public enum Kernels: Sendable, Equatable {
        case onednn(ActivationLayout)
        case reference

        /// oneDNN in its fastest layout on this CPU.
        public static var preferred: Kernels { .onednn(.preferred) }
        /// The layout activations are kept in where the layers take it.
        public var layout: ActivationLayout {
            if case .onednn(let l) = self { return l }
            return .nchw
        }
    }

    public struct Buffer: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case activation, input, gradient, inputGradient, workspace }
        public var name: String
        public var kind: Kind
        /// The global rect it stores (a workspace: `[count]`).
        public var region: Rect
        /// Elements (of the network's element type); a blocked buffer counts its padded
        /// channel blocks.
        public var count: Int
        /// How the region is stored.
        public var layout: ActivationLayout = .nchw
        /// Steps it is alive, both ends included.
        public var lifetime: ClosedRange<Int>
        /// Set when the buffer has no memory of its own but is a view of part of another
        /// (see `Alias`); the arena allocates nothing for it.
        public var alias: Alias? = nil
    }

    /// A buffer that is the interior of another: a producer's output block inside its
    /// consumer's halo'd input, or a gradient over the producer's block inside the
    /// consumer's halo'd input gradient; contiguous, or strided for layers that take it.
    /// The base's lifetime covers the alias's.
    public struct Alias: Sendable, Equatable {
        /// The buffer it is part of.
        public var of: Int
        /// Its first element there.
        public var offset: Int
        /// Where its runs lie from there, when it is not one contiguous run (only for a
        /// layer that `takesStridedOutput`); the view spans `runs.span` elements.
        public var runs: StridedRuns?

        public init(of: Int, offset: Int, runs: StridedRuns? = nil) {
            self.of = of
            self.offset = offset
            self.runs = runs
        }
    }

    /// One redistribution between two buffers of this rank.
    public struct Exchange: Sendable {
        public var tensor: String
        public var source: TensorLayout
        public var target: TensorLayout
        public var mode: RedistributionMode
        public var from: Int
        public var into: Int
        public var sourceRect: Rect
        public var targetRect: Rect
        /// This rank's source block in logical NCHW (`sourceRect` is in storage
        /// coordinates: 5-D for a blocked tensor).
        public var block: Rect
        /// Zero the target first (accumulate into a fresh sum).
        public var zeroFirst: Bool
    }

    /// A local change of storage layout of one rect between two buffers (oneDNN reorder).
    public struct Reorder: Sendable {
        public var tensor: String
        /// The logical NCHW rect both buffers store.
        public var rect: Rect
        public var from: Int
        public var into: Int
        public var fromLayout: ActivationLayout
        public var intoLayout: ActivationLayout
    }

    /// One op on this rank.
    struct Step: Sendable {
        var op: Op
        var index: Int
        var layer: any ShardLayer
        var regions: ShardRegions
        var x: Int?
        var y: Int?
        var extra: Int?
        var dx: Int?
        var dy: Int?
        var forwardWorkspace: Int?
        var backwardWorkspace: Int?
        var inputExchange: Exchange?
        var gradientExchange: Exchange?
        /// Where the op takes its input in another layout than the producer wrote it: the
        /// producer's block is reordered first (then exchanged, if read elsewhere), and in
        /// backward the input gradient is reordered back after the reverse exchange.
        var inputReorder: Reorder?
        var gradientReorder: Reorder?
        /// Where backward reads the op's output from when its own buffer is gone: the
        /// single consumer's input buffer holds it (plus a halo), and a local
        /// redistribution (no messages) copies it back out into a short-lived buffer.
        var outputRecovery: Exchange?
        /// The input comes from the data set (loaded at step 0).
        var loadsData: Bool
        var hasBackward: Bool
        /// Ranks `0 ..< P` of a grid of P ranks; replicas contribute nothing to sums.
        var isPrimary: Bool
        /// Indices into `parameters`, in the op's order.
        var parameters: [Int]
    }

    /// A parameter shard: persistent, outside the arena.
    public struct Parameter: Sendable {
        public var name: String
        public var shape: [Int]
        /// The part this rank holds (and updates).
        public var rect: Rect
        /// Every rank holds it whole: gradients are allreduced (bucketed). Otherwise they
        /// are summed by an accumulate redistribution over the ranks holding each part.
        public var replicated: Bool
        /// Per rank, the part each holds, and whether that rank contributes gradient.
        public var rects: [Rect]
        public var contributes: [Bool]
        /// The op that uses it (its first user).
        public var op: Int
    }

    public let rank: Int
    public let ranks: Int
    public let kernels: Kernels
    public internal(set) var buffers: [Buffer] = []
    public internal(set) var parameters: [Parameter] = []
    var steps: [Step] = []
    /// Number of time steps (the optimizer's is the last).
    public let stepCount: Int

    public func buffer(named name: String) -> Buffer? { buffers.first { $0.name == name } }

    /// Arena requests in bytes for elements of `elementSize`, sizes rounded up to
    /// `alignment`; an alias asks for none (its base holds it).
    public func arenaRequests(elementSize: Int, alignment: Int = 64) -> [ArenaRequest] {
        buffers.map {
            ArenaRequest(size: $0.alias == nil ? ($0.count * elementSize + alignment - 1) / alignment * alignment : 0,
                         lifetime: $0.lifetime)
        }
    }

    /// Per buffer, the steps at which some pass touches it: an op's forward reads `x`,
    /// writes `y` and uses its workspace; its backward reads what it says it reads and
    /// `dy`, writes `dx`; exchanges read and write at the step of the op they serve. A
    /// check of the lifetimes the arena relies on.
    public func uses() -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        let f = stepCount / 2
        func note(_ b: Int?, _ step: Int) { if let b { out[buffers[b].name, default: []].append(step) } }
        for s in steps {
            let i = s.index, back = 2 * f - 1 - i
            note(s.x, i); note(s.y, i); note(s.extra, i); note(s.forwardWorkspace, i)
            if let r = s.inputReorder { note(r.from, i); note(r.into, i) }
            if let e = s.inputExchange { note(e.from, i); note(e.into, i) }
            if s.loadsData { note(s.x, 0) }
            guard s.hasBackward else { continue }
            note(s.dy, back); note(s.dx, back); note(s.backwardWorkspace, back)
            if s.layer.backwardReadsInput { note(s.x, back) }
            if s.layer.backwardReadsOutput {
                if let e = s.outputRecovery { note(e.from, back); note(e.into, back) } else { note(s.y ?? s.extra, back) }
            }
            if let e = s.gradientExchange { note(e.from, back); note(e.into, back) }
            if let r = s.gradientReorder { note(r.from, back); note(r.into, back) }
        }
        return out
    }

    /// Elements of persistent storage besides parameters: layers' saved state.
    public var stateCount: Int { steps.reduce(0) { $0 + $1.layer.stateCount } }
    /// Int32 elements of persistent storage: max-pool indices and labels.
    public var indexCount: Int {
        steps.reduce(0) { $0 + $1.layer.indexCount + ($1.regions.labels?.count ?? 0) }
    }
    /// Elements of send and receive scratch the exchanges of this rank use (each
    /// receive has one spare element; see `ReceiveDatatypes`), and the sharded
    /// parameters' gradient sums.
    public var exchangeScratchCount: Int {
        var exchanges = steps.flatMap { [$0.inputExchange, $0.gradientExchange].compactMap { $0 } }
            .map { RedistributionPlan(from: $0.source, to: $0.target, rank: rank, mode: $0.mode) }
        for p in parameters where !p.replicated {
            let layout = TensorLayout(shape: p.shape, write: zip(p.rects, p.contributes).map { $1 ? $0 : nil }, read: p.rects)
            exchanges.append(RedistributionPlan(from: layout, to: layout, rank: rank, mode: .accumulate))
        }
        return exchanges.reduce(0) { $0 + $1.sendCount + $1.receiveCount + $1.receives.count }
    }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.rect.volume } }
}
