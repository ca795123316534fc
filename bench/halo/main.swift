// Halo-exchange benchmark (issue 11): the redistribution executor against raw MPI.
//
//   bench/run-halo                       (release build; 4 ranks, then 2, via launch/local)
//
// A 4x16x256x256 float tensor, split 2x2 over H and W with 4 ranks, and 1x2 (columns) and
// 2x1 (rows) with 2 (other counts: the most square grid and its transpose), stored either plain (NCHW) or blocked as oneDNN's
// nChw16c, which the redistribution sees as the 5-D tensor [4, 1, 256, 256, 16]. For each
// layout, the halo exchange (copy, in place) and the reverse halo (accumulate, in place)
// at halo widths 1 and 4: the mean time of one `execute`, next to raw
// MPI_Irecv/MPI_Isend/MPI_Waitall of the same messages (same peers, same byte counts) from
// pre-packed contiguous buffers, Open MPI's defaults for both; measured in the same run
// after a warm-up of both, in blocks that alternate which method goes first (ABBA). Times
// are the slowest rank's mean. The exchange's time is also split into `start` (post the
// receives, pack and post the sends) and `finish` (wait, unpack), to show where it goes.
//
// Then, for overlap: `start`, a stand-in for a convolution's interior (sums over a buffer
// of its own, 32 chunks of 4096 sequential additions, about 8 us each), `finish`; the time
// left in `finish`, with the work calling `progress()` between chunks and without (Open
// MPI moves large messages only inside MPI calls, so without it the transfer waits for
// `finish`).
//
// Output: a header, then one table row per case, prefixed "| " so that bench/run-halo can
// gather the rows of both rank counts and print them last.
import CMPI
import Comm
import Geometry

#if canImport(Glibc)
    import Glibc
#endif

let shape = [4, 16, 256, 256]
let widths = [1, 4]
let warmup = 100
let blocks = 100
let repetitionsPerBlock = 20

/// One measured case: a grid, a storage (NCHW or blocked 5-D), a direction and a halo width.
struct Case {
    let grid: String
    let storage: String
    let direction: String
    let width: Int
    let layout: TensorLayout
}

do {
    let comm = try Communicator.world()
    let (a, b) = ProcessGrid.squarestFactors(comm.size)
    if comm.rank == 0 {
        let tensor = shape.map(String.init).joined(separator: "x")
        print("bench-halo: \(tensor) float, \(comm.size) ranks, \(mpiLibraryVersion())")
        print(
            "  \(warmup) warm-up exchanges of each, then \(blocks) blocks of \(repetitionsPerBlock) per method, "
                + "alternating which goes first; slowest rank's mean; target ratio <= 1.3")
    }
    // The most square grid, and when that is not square (2 ranks: 1x2, columns) also its
    // transpose (2x1, rows: the conv stack's grid at 2 ranks), whose halo rows are long
    // runs of the buffers.
    let grids = a == b ? [(a, b)] : [(a, b), (b, a)]
    var cases: [Case] = []
    for (gh, gw) in grids {
        for storage in ["nchw", "blocked"] {
            for direction in ["halo", "reverse"] {
                for width in widths {
                    let layout: TensorLayout =
                        storage == "nchw"
                        ? .blocks(
                            shape: shape, grid: ProcessGrid(shape: [1, 1, gh, gw]), halo: [0, 0, width, width],
                            ranks: comm.size)
                        : .blocks(
                            shape: [shape[0], shape[1] / 16, shape[2], shape[3], 16],
                            grid: ProcessGrid(shape: [1, 1, gh, gw, 1]), halo: [0, 0, width, width, 0],
                            ranks: comm.size)
                    cases.append(
                        Case(grid: "\(gh)x\(gw)", storage: storage, direction: direction, width: width, layout: layout))
                }
            }
        }
    }
    let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    let ranks = comm.size > cores ? "\(comm.size) (oversubscribed)" : "\(comm.size)"
    var rows: [String] = []
    for c in cases {
        let exchange: Redistribution
        var buffer: [Float]
        if c.direction == "halo" {
            exchange = Redistribution(from: c.layout, to: c.layout, mode: .copy, communicator: comm)
            buffer = [Float](repeating: 0, count: exchange.sourceStorage.volume)
            try verify(exchange, c.layout, &buffer, comm)
        } else {
            exchange = Redistribution(
                from: c.layout.mirrored, to: c.layout.mirrored, mode: .accumulate, communicator: comm)
            buffer = [Float](repeating: 1, count: exchange.sourceStorage.volume)
            try verifyReverse(exchange, c.layout, &buffer, comm)
        }
        let m = try measure(exchange, &buffer, comm)
        let o = try measureOverlap(exchange, &buffer, comm)
        rows.append(
            "| \(ranks) | \(c.grid) | \(c.storage) | \(c.direction) | \(c.width) | \(m.messages) | \(m.bytes) "
                + "| \(microseconds(m.start)) + \(microseconds(m.finish)) | \(microseconds(m.exchange)) "
                + "| \(microseconds(m.raw)) | \(fixed(m.exchange / m.raw, 2)) "
                + "| \(microseconds(o.work)) | \(microseconds(o.withoutProgress)) | \(microseconds(o.withProgress)) |")
    }
    if comm.rank == 0 { for row in rows { print(row) } }
    fflush(nil)
} catch {
    print("bench-halo: \(error)")
    exit(1)
}

/// The slowest rank's mean seconds per exchange (and its start and finish parts) and per
/// raw exchange, with the plan's message count and the most bytes a rank sends.
struct Measurement {
    let exchange: Double
    let start: Double
    let finish: Double
    let raw: Double
    let messages: Int
    let bytes: Int
}

/// The exchange against raw MPI of its plan's messages: warm-up, then blocks alternating
/// which goes first.
func measure(_ exchange: Redistribution, _ buffer: inout [Float], _ comm: Communicator) throws -> Measurement {
    let raw = RawExchange(plan: exchange.plan)
    return try buffer.withUnsafeMutableBufferPointer { data in
        for _ in 0..<warmup {
            exchange.execute(data)
            raw.run()
        }
        var exchangeSeconds = 0.0, startSeconds = 0.0, rawSeconds = 0.0
        func timeExchange() throws {
            try comm.barrier()
            let t = MPI_Wtime()
            for _ in 0..<repetitionsPerBlock {
                let s = MPI_Wtime()
                let pending = exchange.start(data)
                startSeconds += MPI_Wtime() - s
                pending.finish()
            }
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
        let slowest = try comm.allreduce(exchangeSeconds / count, .max)
        // The split shown is the slowest rank's own.
        let owner = try comm.allreduce(exchangeSeconds / count == slowest ? comm.rank : comm.size, .min)
        let start = try comm.allreduce(comm.rank == owner ? startSeconds / count : 0, .max)
        return Measurement(
            exchange: slowest, start: start, finish: slowest - start,
            raw: try comm.allreduce(rawSeconds / count, .max),
            messages: try comm.allreduce(exchange.plan.sends.count, .max),
            bytes: try comm.allreduce(raw.sentBytes, .max))
    }
}

/// The slowest rank's mean time of the stand-in work, and of `finish` after it without
/// and with `progress()` calls between the work's chunks.
func measureOverlap(_ exchange: Redistribution, _ buffer: inout [Float], _ comm: Communicator) throws -> (
    work: Double, withoutProgress: Double, withProgress: Double
) {
    let chunks = 32, chunkLength = 4096
    let other = [Float](repeating: 1.5, count: chunks * chunkLength)
    var sink: Float = 0
    var work = 0.0
    var finish = [0.0, 0.0]
    let repetitions = blocks * repetitionsPerBlock / 20
    try buffer.withUnsafeMutableBufferPointer { data in
        try other.withUnsafeBufferPointer { o in
            for i in 0..<(2 * repetitions) {
                let progress = i % 2 == 1
                try comm.barrier()
                let pending = exchange.start(data)
                let t0 = MPI_Wtime()
                for k in 0..<chunks {
                    var s: Float = 0
                    for j in (k * chunkLength)..<((k + 1) * chunkLength) { s += o[j] }
                    sink += s
                    if progress { pending.progress() }
                }
                let t1 = MPI_Wtime()
                pending.finish()
                let t2 = MPI_Wtime()
                work += t1 - t0
                finish[progress ? 1 : 0] += t2 - t1
            }
        }
    }
    if sink == 42 { print("") }  // Keeps the work from being optimised away.
    let n = Double(repetitions)
    return (
        try comm.allreduce(work / (2 * n), .max), try comm.allreduce(finish[0] / n, .max),
        try comm.allreduce(finish[1] / n, .max)
    )
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
