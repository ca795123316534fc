import CMPI

/// How each incoming message of a program is received: an MPI derived datatype per
/// message, committed once per element size and freed in `deinit` (a class, so every
/// handle has one owner).
///
/// - `.inPlace`: copy-mode messages whose contiguous runs are at least
///   `RedistributionProgram.inPlaceRunBytes` long are described where they lie in the
///   destination buffer (each box a nest of `hvector`s over a run of bytes, the boxes joined
///   by a `struct` at their byte offsets), so Open MPI writes them straight into place and
///   nothing is unpacked.
/// - `.scratch`: the other messages (narrow runs such as halo columns, and every message in
///   accumulate mode) land in the receive scratch and are unpacked, or added, by
///   `StridedBox`: Open MPI's datatype engine takes 3.2-3.9 us for the 2048 runs of 4 to
///   16 bytes of a halo column, our copy loops 1.0 us. They are received through a
///   two-block datatype (the message but its last element, then the last element one slot
///   further on) rather than as plain bytes, and the executor moves that element back.
///   A non-contiguous receive makes Open MPI's shared-memory transport (ob1 over vader)
///   copy the message through its fragments instead of reading it with a CMA single copy
///   (`process_vm_readv`), whose system call and completion round trip cost more than two
///   copies of a message this small. On the 2-core benchmark machine, receiving the halo
///   columns this way instead of as plain bytes took `bench/run-halo` from 1.40-1.52x to
///   1.13-1.23x raw MPI at halo width 1, and from 1.27-1.64x to 1.00-1.13x at width 4.
///   That is also why the exchange can come close to, or beat, the raw reference there:
///   the reference's plain-byte messages pay for the CMA reads. With CMA off for both
///   (`--mca btl_vader_single_copy_mechanism none`) raw MPI drops to 8.5-9 us (width 1)
///   and 11-12 us (width 4) while the exchange stays at 15 and 20 us: 1.7x and 1.8x, the
///   cost of touching the halo's 2048 strided cache lines once to pack and once to unpack,
///   twice per core with two ranks on each. Other transports (UCX, networks) treat the
///   two-block type as any derived datatype: correct, its speed there unmeasured.
///
/// Types count bytes, like the contiguous messages the senders post, so both sides' type
/// signatures are `n × MPI_BYTE`.
final class ReceiveDatatypes {
    enum Placement {
        case inPlace
        case scratch
    }

    /// Bytes per element the types were built for.
    let elementSize: Int
    /// Per receive message (in the program's order), where it lands and its datatype.
    let placements: [Placement]
    let types: [MPI_Datatype?]

    init(program: RedistributionProgram, elementSize: Int, rank: Int) throws(CommError) {
        self.elementSize = elementSize
        var placements: [Placement] = []
        var types: [MPI_Datatype?] = []
        do {
            for message in program.receives {
                if program.receivesInPlace(message, elementSize: elementSize) {
                    placements.append(.inPlace)
                    types.append(try messageType(message.boxes, elementSize, rank))
                } else {
                    placements.append(.scratch)
                    types.append(try scratchType(message.count, elementSize, rank))
                }
            }
        } catch {
            for var type in types { MPI_Type_free(&type) }
            throw error
        }
        self.placements = placements
        self.types = types
    }

    deinit {
        // After MPI_Finalize no MPI call is allowed; the types die with the library then.
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        guard finalized == 0 else { return }
        for var type in types { MPI_Type_free(&type) }
    }
}

/// A committed datatype for one message in the destination buffer: its boxes at their byte
/// offsets from the buffer's start, in the order the sender packs them.
private func messageType(_ boxes: [StridedBox], _ elementSize: Int, _ rank: Int) throws(CommError) -> MPI_Datatype? {
    var parts: [MPI_Datatype?] = []
    defer { for var part in parts { MPI_Type_free(&part) } }
    for box in boxes { parts.append(try boxType(box, elementSize, rank)) }
    let displacements = boxes.map { MPI_Aint($0.destinationOffset * elementSize) }
    let lengths = [Int32](repeating: 1, count: boxes.count)
    let count = try int32Count(boxes.count, "MPI_Type_create_struct", rank)
    var type: MPI_Datatype?
    try check(
        MPI_Type_create_struct(count, lengths, displacements, &parts, &type), "MPI_Type_create_struct", rank: rank)
    return try committed(type, rank)
}

/// The box's runs in the destination buffer relative to its first element, innermost
/// first: a contiguous run of bytes, repeated `rows` times, then once per outer dimension.
private func boxType(_ box: StridedBox, _ elementSize: Int, _ rank: Int) throws(CommError) -> MPI_Datatype? {
    var type = try contiguousBytes(box.run * elementSize, rank)
    let levels = [(box.rows, box.rowDestinationStride)] + zip(box.outerSizes, box.outerDestinationStrides).reversed()
    for (count, stride) in levels where count > 1 {
        var outer: MPI_Datatype?
        let n = try int32Count(count, "MPI_Type_create_hvector", rank)
        let code = MPI_Type_create_hvector(n, 1, MPI_Aint(stride * elementSize), type, &outer)
        MPI_Type_free(&type)
        try check(code, "MPI_Type_create_hvector", rank: rank)
        type = outer
    }
    return type
}

/// `count` elements in scratch as two blocks: the first `count - 1` elements, then a gap
/// of one element, then the last one (see `ReceiveDatatypes`).
private func scratchType(_ count: Int, _ elementSize: Int, _ rank: Int) throws(CommError) -> MPI_Datatype? {
    var head = try contiguousBytes((count - 1) * elementSize, rank)
    defer { MPI_Type_free(&head) }
    var parts: [MPI_Datatype?] = [head, cmpi_byte()]
    let lengths: [Int32] = [1, Int32(elementSize)]
    let displacements: [MPI_Aint] = [0, MPI_Aint(count * elementSize)]
    var type: MPI_Datatype?
    try check(MPI_Type_create_struct(2, lengths, displacements, &parts, &type), "MPI_Type_create_struct", rank: rank)
    return try committed(type, rank)
}

private func committed(_ type: MPI_Datatype?, _ rank: Int) throws(CommError) -> MPI_Datatype? {
    var type = type
    do {
        try check(MPI_Type_commit(&type), "MPI_Type_commit", rank: rank)
    } catch {
        MPI_Type_free(&type)
        throw error
    }
    return type
}

/// `bytes` contiguous bytes. MPI counts are 32-bit: a longer run is whole blocks of 2^30
/// bytes followed by the remainder.
private func contiguousBytes(_ bytes: Int, _ rank: Int) throws(CommError) -> MPI_Datatype? {
    var type: MPI_Datatype?
    let block = 1 << 30
    if bytes <= block {
        try check(MPI_Type_contiguous(Int32(bytes), cmpi_byte(), &type), "MPI_Type_contiguous", rank: rank)
        return type
    }
    var blockType: MPI_Datatype?
    try check(MPI_Type_contiguous(Int32(block), cmpi_byte(), &blockType), "MPI_Type_contiguous", rank: rank)
    defer { MPI_Type_free(&blockType) }
    let blocks = try int32Count(bytes / block, "MPI_Type_contiguous", rank)
    let remainder = Int32(bytes % block)
    var parts: [MPI_Datatype?] = [blockType, cmpi_byte()]
    let lengths: [Int32] = [blocks, remainder]
    let displacements: [MPI_Aint] = [0, MPI_Aint(Int(blocks) * block)]
    try check(
        MPI_Type_create_struct(remainder == 0 ? 1 : 2, lengths, displacements, &parts, &type),
        "MPI_Type_create_struct", rank: rank)
    return type
}

/// A count as MPI's `int`, or an error naming the call when it does not fit.
private func int32Count(_ count: Int, _ call: String, _ rank: Int) throws(CommError) -> Int32 {
    guard let n = Int32(exactly: count) else {
        throw CommError.invalidArgument(call: call, rank: rank, reason: "count \(count) exceeds MPI's int range")
    }
    return n
}
