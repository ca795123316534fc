// Halo-exchange benchmark (issue 4): the redistribution executor against raw MPI.
//
//   bench/run-halo                       (release build, 4 ranks via launch/local)
//
// A 1x16x256x256 float tensor on a 2x2 grid (with 4 ranks; other counts use the most
// square grid), halo widths 1 and 4. For each width: the mean time of one in-place halo
// exchange (`Redistribution.execute`: pack, post, wait, unpack or land in place), next to
// raw MPI_Irecv/MPI_Isend/MPI_Waitall of the same messages (same peers, same byte counts)
// from pre-packed buffers, measured in the same run after a warm-up of both, in blocks that
// alternate which method goes first (ABBA), and their ratio. Times are the slowest rank's
// mean. Figures are printed last, the ratio at the end of each line. The reverse halo
// (accumulate mode, the gradients' way back) is measured the same way, for context.
import CMPI
import Comm
import Geometry

#if canImport(Glibc)
    import Glibc
#endif

let shape = [1, 16, 256, 256]
let widths = [1, 4]
let warmup = 100
let blocks = 200
let repetitionsPerBlock = 50

do {
    let comm = try Communicator.world()
    let (a, b) = ProcessGrid.squarestFactors(comm.size)
    let grid = ProcessGrid(shape: [1, 1, a, b])
    if comm.rank == 0 {
        let tensor = shape.map(String.init).joined(separator: "x")
        print("bench-halo: \(tensor) float, grid \(grid), \(comm.size) ranks, \(mpiLibraryVersion())")
        print(
            "  \(warmup) warm-up exchanges of each, then \(blocks) blocks of \(repetitionsPerBlock) per method, "
                + "alternating which goes first; slowest rank's mean; target ratio <= 1.3")
    }
    var figures: [String] = []
    for width in widths {
        let layout = TensorLayout.blocks(shape: shape, grid: grid, halo: [0, 0, width, width], ranks: comm.size)
        let halo = Redistribution(from: layout, to: layout, mode: .copy, communicator: comm)
        var buffer = [Float](repeating: 0, count: halo.sourceStorage.volume)
        try verify(halo, layout, &buffer, comm)
        figures.append(try measure("halo width \(width)", halo, &buffer, comm))
    }
    // Context, not the issue's target: the gradients' way back (summed into the owners).
    for width in widths {
        let layout = TensorLayout.blocks(shape: shape, grid: grid, halo: [0, 0, width, width], ranks: comm.size)
        let reverse = Redistribution(
            from: layout.mirrored, to: layout.mirrored, mode: .accumulate, communicator: comm)
        var buffer = [Float](repeating: 1, count: reverse.sourceStorage.volume)
        try verifyReverse(reverse, layout, &buffer, comm)
        figures.append(try measure("reverse halo width \(width)", reverse, &buffer, comm))
    }
    if comm.rank == 0 { for line in figures { print(line) } }
    fflush(nil)
} catch {
    print("bench-halo: \(error)")
    exit(1)
}

/// The exchange against raw MPI of its plan's messages: warm-up, then blocks alternating
/// which goes first; the slowest rank's means and their ratio, as one line ending in it.
func measure(_ name: String, _ exchange: Redistribution, _ buffer: inout [Float], _ comm: Communicator) throws -> String
{
    let raw = RawExchange(plan: exchange.plan)
    return try buffer.withUnsafeMutableBufferPointer { data in
        for _ in 0..<warmup {
            exchange.execute(data)
            raw.run()
        }
        var exchangeSeconds = 0.0, rawSeconds = 0.0
        func timeExchange() throws {
            try comm.barrier()
            let t = MPI_Wtime()
            for _ in 0..<repetitionsPerBlock { exchange.execute(data) }
            exchangeSeconds += MPI_Wtime() - t
        }
        func timeRaw() throws {
            try comm.barrier()
            let t = MPI_Wtime()
            for _ in 0..<repetitionsPerBlock { raw.run() }
            rawSeconds += MPI_Wtime() - t
        }
        for block in 0..<blocks {
            if block % 2 == 0 {
                try timeExchange()
                try timeRaw()
            } else {
                try timeRaw()
                try timeExchange()
            }
        }
        let count = Double(blocks * repetitionsPerBlock)
        let exchangeMean = try comm.allreduce(exchangeSeconds / count, .max)
        let rawMean = try comm.allreduce(rawSeconds / count, .max)
        let messages = exchange.plan.sends.count
        let bytes = try comm.allreduce(raw.sentBytes, .max)
        return "\(name) (\(messages) messages, up to \(bytes) bytes sent per rank): "
            + "exchange \(microseconds(exchangeMean)) us, raw MPI \(microseconds(rawMean)) us, "
            + "ratio \(fixed(exchangeMean / rawMean, 2))"
    }
}

/// Every rank holds 1 in its whole read rect; after one reverse exchange each owned
/// element holds the number of ranks that read it, so the timing is of an exchange that
/// works.
func verifyReverse(_ exchange: Redistribution, _ layout: TensorLayout, _ buffer: inout [Float], _ comm: Communicator)
    throws
{
    let storage = exchange.sourceStorage
    exchange.execute(&buffer)
    var i = 0
    var wrong = 0
    for p in storage.points {
        let readers =
            layout.write[comm.rank].contains(point: p) ? layout.read.filter { $0.contains(point: p) }.count : 1
        if buffer[i] != Float(readers) { wrong += 1 }
        i += 1
    }
    if try comm.allreduce(wrong) != 0 {
        if comm.rank == 0 { print("bench-halo: the reverse halo exchange gave wrong values") }
        exit(1)
    }
}

/// Fills the owned block from the global index, exchanges once, and checks the halo, so
/// the timing is of an exchange that works.
func verify(_ exchange: Redistribution, _ layout: TensorLayout, _ buffer: inout [Float], _ comm: Communicator) throws {
    let storage = exchange.sourceStorage
    let whole = Rect(shape: layout.shape)
    let owned = layout.write[comm.rank]
    var i = 0
    for p in storage.points {
        buffer[i] = owned.contains(point: p) ? Float(whole.linearIndex(of: p) % 1_000_003) : -1
        i += 1
    }
    exchange.execute(&buffer)
    i = 0
    var wrong = 0
    for p in storage.points {
        if buffer[i] != Float(whole.linearIndex(of: p) % 1_000_003) { wrong += 1 }
        i += 1
    }
    if try comm.allreduce(wrong) != 0 {
        if comm.rank == 0 { print("bench-halo: the halo exchange gave wrong values") }
        exit(1)
    }
}


func microseconds(_ seconds: Double) -> String { fixed(seconds * 1e6, 1) }

/// `value` with `digits` decimals (no Foundation).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale)
    let fraction = String(abs(scaled) % Int(scale))
    return digits == 0 ? "\(whole)" : "\(whole).\(String(repeating: "0", count: digits - fraction.count))\(fraction)"
}
