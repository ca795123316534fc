import Geometry

/// A plan compiled against the local buffers' storage rects: which strided boxes to pack
/// into each outgoing message, unpack from each incoming one, and copy locally. Pure (no
/// MPI), so that it can be tested by passing messages between simulated ranks.
///
/// Messages are laid out one after another in a send scratch buffer and in a receive
/// scratch buffer, in the plan's peer order; `offset` and `count` are in elements. The
/// executor gives receive message `i` one spare element after it, so it starts at
/// `offset + i` in its scratch (see `ReceiveDatatypes`).
struct RedistributionProgram: Hashable, Sendable {
    struct Message: Hashable, Sendable {
        let peer: Int
        let offset: Int
        let count: Int
        /// Send: local storage → scratch. Receive: scratch → local storage.
        let boxes: [StridedBox]
    }

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
                result.append(Message(peer: transfer.peer, offset: offset, count: position - offset, boxes: boxes))
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

    /// Shortest contiguous run, in bytes, that a receive writes in place through MPI's
    /// datatype engine (see `ReceiveDatatypes`). The engine's cost per run (~1.6 ns) is
    /// three times our unpacking loops' on runs of 4 to 16 bytes and negligible on rows of
    /// 512; between the two a cache line is a guess, not a measurement.
    static let inPlaceRunBytes = 64

    /// Whether a receive lands straight in the destination buffer through a derived
    /// datatype (copy mode, every run at least `inPlaceRunBytes` long) rather than in the
    /// receive scratch, to be unpacked or added by us.
    func receivesInPlace(_ message: Message, elementSize: Int) -> Bool {
        plan.mode == .copy && message.boxes.allSatisfy { $0.run * elementSize >= Self.inPlaceRunBytes }
    }

    /// Elements of receive scratch the executor needs: the messages and one spare element
    /// after each.
    var receiveScratchCount: Int { receiveCount + receives.count }

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
