import Geometry

/// A plan compiled against the local buffers' storage rects: which strided boxes to pack
/// into each outgoing message, unpack from each incoming one, and copy locally. Pure (no
/// MPI), so that it can be tested by passing messages between simulated ranks.
///
/// Messages are laid out one after another in a send scratch buffer and in a receive
/// scratch buffer, in the plan's peer order; `offset` and `count` are in elements. A
/// message that is one contiguous run of the local buffer (a row halo of a tensor split
/// along its outermost split dimension only) also knows where that run starts, so that the
/// executor can send it straight from the buffer, or receive it straight into it.
struct RedistributionProgram: Hashable, Sendable {
    struct Message: Hashable, Sendable {
        let peer: Int
        let offset: Int
        let count: Int
        /// Send: local storage → scratch. Receive: scratch → local storage.
        let boxes: [StridedBox]
        /// When the message is a single contiguous run of the local buffer (source storage
        /// for a send, target storage for a receive): the run's first element there.
        let contiguousOffset: Int?
        /// When the message travels as several MPI messages, one per run (`Run`): rows of a
        /// blocked shard per image, say. Decided from the tensor's shape alone, so that
        /// sender and receiver split it alike.
        let runs: [Run]?
    }

    /// One contiguous run of a message that travels on its own: `count` elements at
    /// `offset` of the local buffer, and at `position` of the message (in scratch, from
    /// the message's own `offset`).
    struct Run: Hashable, Sendable {
        let offset: Int
        let position: Int
        let count: Int
    }

    /// A message split into runs only when each is long enough for Open MPI to read it
    /// with one CMA copy (its shared-memory transport copies messages over its 4 KB eager
    /// limit straight between the processes; 2048 elements are 8 KB of Float) and there
    /// are few of them: shorter runs cost more as messages of their own, each copied
    /// twice through shared-memory fragments, than packed into one.
    static let minimumRunElements = 2048
    static let maximumRuns = 64

    let plan: RedistributionPlan
    /// The rect the source buffer stores, and the one the destination buffer stores.
    let sourceStorage: Rect
    let targetStorage: Rect
    let sends: [Message]
    let receives: [Message]
    /// Source storage → target storage.
    let local: [StridedBox]
    /// Elements of all outgoing, and all incoming, messages.
    let sendCount: Int
    let receiveCount: Int

    /// - Precondition: the source storage holds every rect this rank sends or copies, and
    ///   the target storage every rect it receives or copies.
    init(plan: RedistributionPlan, sourceStorage: Rect, targetStorage: Rect) {
        for rect in plan.sends.flatMap(\.rects) + plan.localCopies {
            precondition(
                sourceStorage.contains(rect),
                "rank \(plan.rank): source storage \(sourceStorage) lacks \(rect) it must send or copy")
        }
        for rect in plan.receives.flatMap(\.rects) + plan.localCopies {
            precondition(
                targetStorage.contains(rect),
                "rank \(plan.rank): target storage \(targetStorage) lacks \(rect) it must receive or copy")
        }
        func messages(_ transfers: [RedistributionPlan.Transfer], packing: Bool) -> ([Message], Int) {
            var result: [Message] = []
            var offset = 0
            for transfer in transfers {
                var boxes: [StridedBox] = []
                var position = offset
                for rect in transfer.rects {
                    boxes.append(
                        packing
                            ? StridedBox(
                                piece: rect, sourceFrame: sourceStorage,
                                destinationFrame: rect, destinationBase: position)
                            : StridedBox(
                                piece: rect, sourceFrame: rect, sourceBase: position,
                                destinationFrame: targetStorage))
                    position += rect.volume
                }
                var contiguousOffset: Int?
                if boxes.count == 1, let box = boxes.first, box.rows == 1, box.outerSizes.isEmpty {
                    contiguousOffset = packing ? box.sourceOffset : box.destinationOffset
                }
                var runs: [Run]?
                if transfer.rects.count == 1, let rect = transfer.rects.first,
                   let pieces = Self.runs(of: rect, shape: plan.shape)
                {
                    let frame = packing ? sourceStorage : targetStorage
                    var at = 0
                    runs = pieces.map { piece in
                        defer { at += piece.volume }
                        return Run(offset: frame.linearIndex(of: piece.origin), position: at, count: piece.volume)
                    }
                }
                result.append(
                    Message(
                        peer: transfer.peer, offset: offset, count: position - offset, boxes: boxes,
                        contiguousOffset: contiguousOffset, runs: runs))
                offset = position
            }
            return (result, offset)
        }
        self.plan = plan
        self.sourceStorage = sourceStorage
        self.targetStorage = targetStorage
        (sends, sendCount) = messages(plan.sends, packing: true)
        (receives, receiveCount) = messages(plan.receives, packing: false)
        local = plan.localCopies.map {
            StridedBox(piece: $0, sourceFrame: sourceStorage, destinationFrame: targetStorage)
        }
    }

    /// Whether receive `message` lands straight in the destination buffer, as plain bytes:
    /// in copy mode, when it is one contiguous run there or travels as runs. Other receives
    /// land in the receive scratch and are unpacked (or added) from there.
    func receivesInPlace(_ message: Message) -> Bool {
        plan.mode == .copy && (message.contiguousOffset != nil || message.runs != nil)
    }

    /// Number of MPI messages of `message` (its runs, or one).
    func parts(_ message: Message) -> Int { message.runs?.count ?? 1 }

    /// `rect` of a tensor of `shape` cut into the runs it travels as, in row-major order,
    /// or nil when it travels as one message. A run keeps every dimension from the first
    /// one where `rect` is not whole in the tensor, going inwards (`j`), and takes one
    /// index of each dimension before: every dimension after `j` is then whole in the
    /// tensor, hence in any buffer storing part of it, so each run is contiguous in the
    /// sender's buffer and in the receiver's alike, whatever their rects.
    static func runs(of rect: Rect, shape: [Int]) -> [Rect]? {
        let d = rect.dimensions
        guard d == shape.count, !rect.isEmpty else { return nil }
        var j = d - 1
        while j > 0 && rect.origin[j] == 0 && rect.size[j] == shape[j] { j -= 1 }
        let length = (j..<d).reduce(1) { $0 * rect.size[$1] }
        let count = rect.volume / length
        guard count >= 2, count <= maximumRuns, length >= minimumRunElements else { return nil }
        let outer = Rect(ranges: (0..<j).map { rect.range($0) })
        return outer.points.map { p in
            Rect(origin: p + Array(rect.origin[j...]), size: [Int](repeating: 1, count: j) + Array(rect.size[j...]))
        }
    }

    /// Packs message `message` from the source buffer into the send scratch (`scratch` is
    /// the start of the whole scratch; the message goes to its `offset`).
    func pack<T: MPIScalar>(_ message: Message, from source: UnsafePointer<T>, into scratch: UnsafeMutablePointer<T>) {
        for box in message.boxes {
            box.copy(from: source, to: scratch, elementSize: MemoryLayout<T>.stride)
        }
    }

    /// Unpacks message `message` from the receive scratch (`scratch` is the start of the
    /// whole scratch) into the destination buffer, copying or adding by the plan's mode.
    func unpack<T: MPIScalar>(
        _ message: Message, from scratch: UnsafePointer<T>, into destination: UnsafeMutablePointer<T>
    ) {
        apply(message.boxes, from: scratch, to: destination)
    }

    /// The rank's own part, between two distinct buffers. In place it is skipped: the
    /// data is already where it belongs (and in accumulate mode already counted).
    func copyLocal<T: MPIScalar>(from source: UnsafePointer<T>, into destination: UnsafeMutablePointer<T>) {
        apply(local, from: source, to: destination)
    }

    private func apply<T: MPIScalar>(
        _ boxes: [StridedBox], from source: UnsafePointer<T>, to destination: UnsafeMutablePointer<T>
    ) {
        switch plan.mode {
        case .copy:
            for box in boxes { box.copy(from: source, to: destination, elementSize: MemoryLayout<T>.stride) }
        case .accumulate:
            for box in boxes { box.add(from: source, to: destination) }
        }
    }
}
