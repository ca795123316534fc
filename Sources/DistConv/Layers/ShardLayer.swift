import Geometry
import Kernels

/// One op kind on one rank's shard: everything the runtime needs to know about a layer
/// lives in the type that conforms (one file per layer family, STYLE.md 12).
///
/// A layer is built once per rank from its op and the rects the partitioner gave this
/// rank (`ShardRegions`); it says how much workspace and saved state it needs and what
/// its backward pass reads, and runs forward and backward on the buffers of `LayerIO`:
/// `x` [the op's dist_input], `y` [its dist_result block of the main output], `dy`,
/// `dx` their gradients, parameters at the rects this rank reads. Parameter gradients
/// are added into (the runtime zeroes them once per step); `dx` is overwritten.
protocol ShardLayer: Sendable {
    /// Elements of workspace (of the element type) forward and backward use.
    var forwardWorkspace: Int { get }
    var backwardWorkspace: Int { get }
    /// Elements of saved state (of the element type) kept from forward to backward and
    /// across steps (batch-norm statistics), and of Int32 indices (max-pool's argmax).
    var stateCount: Int { get }
    var indexCount: Int { get }
    /// What backward reads besides `dy`: the forward input, the forward output.
    var backwardReadsInput: Bool { get }
    var backwardReadsOutput: Bool { get }
    /// Forward can write its output, and backward read its output and output gradient,
    /// through a strided view (`LayerIO.yRuns`, `dyRuns`): the plan then lets it write
    /// straight into its consumer's halo'd input even where its block is not one run there.
    var takesStridedOutput: Bool { get }

    /// Fills this rank's part `rect` of parameter `index` (of global `shape`) with its
    /// initial values (PyTorch's defaults), from the seed and the global element index.
    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>)
    /// The name and shape of parameter `index` in the `state_dict` of the same PyTorch
    /// module (`conv1.weight`, a linear layer's weight flattened to `[out, in]`).
    func stateDictEntry(parameter index: Int, op: Op, shape: [Int]) -> (name: String, shape: [Int])

    /// Saved state that PyTorch keeps in the `state_dict` too (batch norm's running
    /// statistics): the name, where it sits in `state`, and its global length; this rank
    /// holds the op's channel block of it.
    func stateDictBuffers(op: Op) -> [(name: String, offset: Int, length: Int)]

    /// The oneDNN primitives of this shard, made once when a Float network binds a plan
    /// built for oneDNN (nil: the layer runs its reference kernels). Held in `LayerIO`.
    func makeKernels() throws(KernelShapeError) -> AnyObject?

    /// Forward on the shard; a loss returns its share of the loss, others 0.
    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double
    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext)
}

extension ShardLayer {
    var forwardWorkspace: Int { 0 }
    var backwardWorkspace: Int { 0 }
    var stateCount: Int { 0 }
    var indexCount: Int { 0 }
    var backwardReadsInput: Bool { false }
    var backwardReadsOutput: Bool { false }
    var takesStridedOutput: Bool { false }
    func initialize<T: RuntimeScalar>(parameter index: Int, shape: [Int], rect: Rect, seed: UInt64,
                                      values: UnsafeMutableBufferPointer<T>) {}
    func stateDictEntry(parameter index: Int, op: Op, shape: [Int]) -> (name: String, shape: [Int]) {
        ("\(op.name).\(index == 0 ? "weight" : "bias")", shape)
    }
    func stateDictBuffers(op: Op) -> [(name: String, offset: Int, length: Int)] { [] }
    func makeKernels() throws(KernelShapeError) -> AnyObject? { nil }
}

/// The rects of one op on this rank, from the partition.
struct ShardRegions: Sendable {
    /// The op's dist_input (nil for the data op).
    var input: Rect
    /// The block of the main output this rank computes.
    var output: Rect
    /// The second output's block (a loss's probabilities), if any.
    var extraOutput: Rect?
    /// Per parameter of the op, the rect this rank reads.
    var parameters: [Rect]
    /// Rows of the labels this rank reads (losses, evaluation).
    var labels: Range<Int>?
    /// How `x`/`dx` and `y`/`dy` are stored (decided by the plan from `LayerPartitioning.layouts`).
    var inputLayout: ActivationLayout = .nchw
    var outputLayout: ActivationLayout = .nchw
    /// The op runs on oneDNN's kernels (Float only); the reference kernels otherwise.
    var onednn = false
    /// Batch rows of the input.
    var batch: Int { input.size[0] }
}

/// The buffers of one op on this rank for one pass. Pointers into the arena and the
/// parameter storage, fixed when the network is built.
struct LayerIO<T: RuntimeScalar> {
    var x: UnsafeMutableBufferPointer<T>
    var y: UnsafeMutableBufferPointer<T>
    var dx: UnsafeMutableBufferPointer<T>?
    var dy: UnsafeMutableBufferPointer<T>?
    /// A second output (a loss's probabilities), with its gradient never needed.
    var extra: UnsafeMutableBufferPointer<T>?
    var parameters: [UnsafeMutableBufferPointer<T>]
    var gradients: [UnsafeMutableBufferPointer<T>]
    var workspace: UnsafeMutableBufferPointer<T>
    var state: UnsafeMutableBufferPointer<T>
    var indices: UnsafeMutableBufferPointer<Int32>
    var labels: UnsafeMutableBufferPointer<Int32>
    /// The layer's oneDNN primitives (`ShardLayer.makeKernels`), when it has them.
    var kernels: AnyObject?
    /// Where `y` and `dy` are strided views of a larger buffer (`ShardLayer.takesStridedOutput`):
    /// their runs; nil where dense.
    var yRuns: StridedRuns? = nil
    var dyRuns: StridedRuns? = nil

    var cx: UnsafeBufferPointer<T> { UnsafeBufferPointer(x) }
    var cy: UnsafeBufferPointer<T> { UnsafeBufferPointer(y) }
    var cdy: UnsafeBufferPointer<T> { UnsafeBufferPointer(dy ?? UnsafeMutableBufferPointer(start: nil, count: 0)) }
    var cdx: UnsafeMutableBufferPointer<T> { dx ?? UnsafeMutableBufferPointer(start: nil, count: 0) }
    func parameter(_ i: Int) -> UnsafeBufferPointer<T> { UnsafeBufferPointer(parameters[i]) }
}

/// A buffer of the network's element type as Float: oneDNN's kernels exist only in Float
/// networks (`Network` checks), so a layer holding them runs with `T == Float`.
func floats<T>(_ b: UnsafeBufferPointer<T>) -> UnsafeBufferPointer<Float> {
    precondition(T.self == Float.self, "oneDNN kernels on \(T.self) buffers")
    return UnsafeBufferPointer(start: UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: Float.self), count: b.count)
}

func floats<T>(_ b: UnsafeMutableBufferPointer<T>) -> UnsafeMutableBufferPointer<Float> {
    precondition(T.self == Float.self, "oneDNN kernels on \(T.self) buffers")
    return UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(b.baseAddress)?.assumingMemoryBound(to: Float.self),
                                      count: b.count)
}

/// What a pass knows beyond its buffers.
struct StepContext {
    /// Training (batch statistics, dropout on) or evaluation (running statistics, off).
    var training: Bool
    /// The optimizer step, for dropout's mask.
    var step: Int
    var seed: UInt64
    /// The global batch size: losses are means over it.
    var globalBatch: Int
    /// Rows of the batch that are real samples (an evaluation's last batch is padded).
    var validRows: Int
    /// Combines statistics of a shard across the ranks of its op (batch norm).
    var reducer: BatchNormReducer
}
