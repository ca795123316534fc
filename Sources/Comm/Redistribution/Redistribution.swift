import Geometry

/// Moves one tensor from layout `A` to layout `B` over MPI: this rank's
/// `RedistributionPlan`, compiled against its local buffers, with reusable scratch.
/// Halo exchange, reverse halo, layout changes, gather, scatter and reduce-scatter are all
/// this one type with different layouts (see `TensorLayout`'s constructors).
///
/// Build it once per layout pair (or take it from a `RedistributionCache`) and call
/// `execute` every step, or `start` and later `finish` to compute while the messages
/// travel; after the first call with an element type no allocation happens.
///
/// Transport: plain bytes on the wire, so that Open MPI's shared-memory transport reads
/// large messages with a CMA single copy just as it does for raw `MPI_Isend`/`MPI_Irecv`.
/// Every outgoing message is packed by `StridedBox` into contiguous send scratch (or sent
/// straight from the buffer when it is one contiguous run there); every incoming message
/// lands in contiguous receive scratch and is unpacked, or added, by `StridedBox` (or, in
/// copy mode, lands straight in the buffer when it is one contiguous run there). Receiving
/// narrow halo columns through MPI derived datatypes instead, as this type did before, cost
/// 2.6-3.8x raw MPI for the halo and 2.4-5.3x for the reverse halo on the Xeon machine
/// (`bench/run-halo`, README): such messages are copied through shared-memory fragments,
/// without CMA.
///
///     let layout = TensorLayout.blocks(shape: [1, 16, 256, 256], grid: ProcessGrid(shape: [1, 1, 2, 2]),
///                                      halo: [0, 0, 1, 1], ranks: comm.size)
///     let halo = Redistribution(from: layout, to: layout, mode: .copy, communicator: comm)
///     halo.execute(&activations)          // activations store layout.read[comm.rank]
///     let back = Redistribution(from: layout.mirrored, to: layout.mirrored, mode: .accumulate,
///                               communicator: comm)
///     back.execute(&gradients)            // owners now hold the summed halo gradients
///
/// Local buffers are row-major and store a rect of the global tensor: by default the
/// layout's `storage(rank:)`, the bounding box of what the rank writes and reads. A
/// tensor stored in a blocked layout (oneDNN's nChw16c) is a 5-D tensor
/// `[N, C/16, H, W, 16]` here, its rects whole in the last dimension.
///
/// `execute` (and `start`) is collective over the ranks with messages in the plan: all of
/// them must execute the same redistributions in the same order. On any error (a bad
/// buffer, an MPI failure) it prints one line naming the rank and the call and aborts the
/// job, so that no other rank waits forever for a message that will not come.
public final class Redistribution {
    public let communicator: Communicator
    let program: RedistributionProgram
    let tag: Int
    let requests: RequestSet
    private var sendScratch: UnsafeMutableRawPointer?
    private var receiveScratch: UnsafeMutableRawPointer?
    private var scratchElementSize = 0
    /// Whether an exchange was started and not finished yet (one at a time).
    var inFlight = false
    /// Per receive, whether it has completed (accumulate mode adds them in order).
    var arrived: UnsafeMutableBufferPointer<Bool>
    /// Per receive, its MPI messages not yet completed (during `complete`).
    var partsLeft: UnsafeMutableBufferPointer<Int>
    /// Per receive request, in the order `begin` posts them, the receive it is part of.
    let receiveRequestMessage: [Int]

    /// Parts of this rank's target read rect (global coordinates) that arrive from other
    /// ranks: what `finish` writes (copy mode) or adds to (accumulate mode). Everything else
    /// of the target is ready once `start` returns. A convolution can compute the part of
    /// its output that reads none of these while the messages travel.
    public let incomingRegions: [Rect]
    /// Parts of this rank's source write rect that other ranks receive: they must hold
    /// their values from `start` until `finish` returns.
    public let outgoingRegions: [Rect]

    /// Exit code of the job when an exchange fails.
    public static let abortCode: Int32 = 3

    /// This rank's plan.
    public var plan: RedistributionPlan { program.plan }
    /// The rect the source buffer stores.
    public var sourceStorage: Rect { program.sourceStorage }
    /// The rect the destination buffer stores.
    public var targetStorage: Rect { program.targetStorage }

    /// The redistribution of this rank from `source`'s write rects to `target`'s read rects.
    ///
    /// - Parameters:
    ///   - sourceStorage: the rect the source buffer stores; by default
    ///     `source.storage(rank:)`. It must contain what this rank sends or copies.
    ///   - targetStorage: the rect the destination buffer stores; by default
    ///     `target.storage(rank:)`. It must contain what this rank receives or copies.
    ///     Executing in place needs both storages equal.
    ///   - tag: the MPI tag of its messages.
    /// - Precondition: both layouts span exactly the communicator's ranks.
    public init(
        from source: TensorLayout, to target: TensorLayout, mode: RedistributionMode,
        communicator: Communicator, sourceStorage: Rect? = nil, targetStorage: Rect? = nil,
        tag: Int = 0
    ) {
        precondition(
            source.ranks == communicator.size,
            "layout over \(source.ranks) ranks on a communicator of \(communicator.size)")
        let rank = communicator.rank
        let plan = RedistributionPlan(from: source, to: target, rank: rank, mode: mode)
        self.communicator = communicator
        self.program = RedistributionProgram(
            plan: plan, sourceStorage: sourceStorage ?? source.storage(rank: rank),
            targetStorage: targetStorage ?? target.storage(rank: rank))
        self.tag = tag
        self.incomingRegions = plan.receives.flatMap(\.rects)
        self.outgoingRegions = plan.sends.flatMap(\.rects)
        self.arrived = .allocate(capacity: plan.receives.count)
        self.arrived.initialize(repeating: false)
        self.partsLeft = .allocate(capacity: plan.receives.count)
        self.partsLeft.initialize(repeating: 0)
        let program = self.program
        self.receiveRequestMessage = program.receives.indices.flatMap { k in
            [Int](repeating: k, count: program.parts(program.receives[k]))
        }
        self.requests = RequestSet(
            capacity: (program.sends + program.receives).reduce(0) { $0 + program.parts($1) })
    }

    deinit {
        arrived.deallocate()
        partsLeft.deallocate()
        sendScratch?.deallocate()
        receiveScratch?.deallocate()
    }

    /// Send and receive scratch typed for `T`, grown when `T` is wider than before.
    func scratch<T: MPIScalar>(for _: T.Type) -> (send: UnsafeMutablePointer<T>?, receive: UnsafeMutablePointer<T>?) {
        let size = MemoryLayout<T>.stride
        if size > scratchElementSize {
            sendScratch?.deallocate()
            receiveScratch?.deallocate()
            let alignment = 64
            sendScratch =
                program.sendCount == 0
                ? nil
                : .allocate(byteCount: program.sendCount * size, alignment: alignment)
            receiveScratch =
                program.receiveCount == 0
                ? nil
                : .allocate(byteCount: program.receiveCount * size, alignment: alignment)
            scratchElementSize = size
        }
        return (
            sendScratch?.bindMemory(to: T.self, capacity: program.sendCount),
            receiveScratch?.bindMemory(to: T.self, capacity: program.receiveCount)
        )
    }
}
