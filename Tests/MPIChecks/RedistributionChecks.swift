import Comm
import Geometry

/// Every communication pattern of DESIGN.md §2 through the one redistribution primitive:
/// each rank fills what it writes from a formula of the global index, exchanges, and
/// checks every element it reads. Works on any number of ranks; grids follow the size.
///
///   mpi-checks redistribute [SCENARIO...]     (all scenarios when none is named)
///
/// Rank 0 prints `ok NAME` or `not ok NAME` per scenario once all ranks agree.
func checkRedistributions(_ comm: Communicator, _ args: [String]) throws -> [String] {
    let scenarios = redistributionScenarios()
    let names = args.isEmpty ? scenarios.map(\.0) : args
    var failures: [String] = []
    for name in names {
        guard let run = scenarios.first(where: { $0.0 == name })?.1 else {
            failures.append("unknown scenario \(name); known: \(scenarios.map(\.0).joined(separator: ", "))")
            continue
        }
        let found = try run(comm)
        let failedRanks = try comm.allreduce(found.isEmpty ? 0 : 1)
        if comm.rank == 0 { print("\(failedRanks == 0 ? "ok" : "not ok") \(name)") }
        failures += found.map { "\(name): \($0)" }
    }
    return failures
}

func redistributionScenarios() -> [(String, (Communicator) throws -> [String])] {
    [
        (
            "halo-2d",
            { comm in
                let (a, b) = factor2(comm.size)
                let layout = TensorLayout.blocks(
                    shape: [2, 3, 13, 11], grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 1, 1], ranks: comm.size)
                return copyCheck(comm, from: layout, to: layout, as: Float.self, inPlace: true, rounds: 3)
            }
        ),
        (
            "halo-nchw",
            { comm in
                let grids = [1: [1, 1, 1, 1], 2: [2, 1, 1, 1], 3: [1, 3, 1, 1], 4: [2, 1, 1, 2]]
                let grid = ProcessGrid(shape: grids[comm.size] ?? [comm.size, 1, 1, 1])
                let layout = TensorLayout.blocks(
                    shape: [5, 7, 9, 6], grid: grid, halo: [1, 1, 2, 1], ranks: comm.size)
                return copyCheck(comm, from: layout, to: layout, as: Double.self, inPlace: true)
            }
        ),
        (
            "halo-in-place",
            { comm in
                // Rows of 20 floats and 12 doubles, columns one and two elements wide: every
                // message packed, sent as bytes, unpacked.
                let (a, b) = factor2(comm.size)
                let floats = TensorLayout.blocks(
                    shape: [1, 3, 20, 40], grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 2, 1], ranks: comm.size)
                let doubles = TensorLayout.blocks(
                    shape: [2, 2, 12, 24], grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 1, 2], ranks: comm.size)
                // One channel: the corner messages hold a single element.
                let single = TensorLayout.blocks(
                    shape: [1, 1, 6, 6], grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 1, 1], ranks: comm.size)
                return copyCheck(comm, from: floats, to: floats, as: Float.self, inPlace: true, rounds: 3)
                    + copyCheck(comm, from: doubles, to: doubles, as: Double.self, rounds: 2)
                    + copyCheck(comm, from: doubles, to: doubles, as: Int.self, inPlace: true)
                    + copyCheck(comm, from: single, to: single, as: Float.self, inPlace: true, rounds: 2)
                    + accumulateCheck(comm, from: single.mirrored, to: single.mirrored, inPlace: true)
            }
        ),
        (
            "halo-blocked",
            { comm in
                // [2, 32, 6, 5] stored blocked (nChw16c): [2, 2, 6, 5, 16], halos of whole
                // pixels; then a single channel block split along H only, whose halo rows
                // are one run of the buffer and travel straight from and into it.
                let (a, b) = factor2(comm.size)
                let square = TensorLayout.blocks(
                    shape: [2, 2, 6, 5, 16], grid: ProcessGrid(shape: [1, 1, a, b, 1]),
                    halo: [0, 0, 1, 2, 0], ranks: comm.size)
                let rows = TensorLayout.blocks(
                    shape: [1, 1, 3 * comm.size, 4, 16], grid: ProcessGrid(shape: [1, 1, comm.size, 1, 1]),
                    halo: [0, 0, 1, 1, 0], ranks: comm.size)
                // Two images of 128 pixels a row: each halo row is two runs of 2048 floats
                // (one per image), sent as one MPI message each, straight from and into
                // the buffers (RedistributionProgram.Run).
                let runs = TensorLayout.blocks(
                    shape: [2, 1, 4 * b, 128 * a, 16], grid: ProcessGrid(shape: [1, 1, b, a, 1]),
                    halo: [0, 0, 1, 1, 0], ranks: comm.size)
                return copyCheck(comm, from: square, to: square, as: Float.self, inPlace: true, rounds: 2)
                    + copyCheck(comm, from: square, to: square, as: Float.self)
                    + copyCheck(comm, from: runs, to: runs, as: Float.self, inPlace: true, rounds: 2)
                    + copyCheck(comm, from: runs, to: runs, as: Double.self)
                    + accumulateCheck(comm, from: runs.mirrored, to: runs.mirrored, inPlace: true)
                    + accumulateCheck(comm, from: runs.mirrored, to: runs.mirrored, inPlace: false)
                    + copyCheck(comm, from: rows, to: rows, as: Float.self, inPlace: true, rounds: 2)
                    + copyCheck(comm, from: rows, to: rows, as: Double.self)
                    + accumulateCheck(comm, from: square.mirrored, to: square.mirrored, inPlace: true)
                    + accumulateCheck(comm, from: rows.mirrored, to: rows.mirrored, inPlace: true)
                    + accumulateCheck(comm, from: rows.mirrored, to: rows.mirrored, inPlace: false)
            }
        ),
        ("start-finish", startFinishScenario),
        (
            "uneven-split",
            { comm in
                // 41 rows over 3 ranks: 14 + 14 + 13.
                let layout = TensorLayout.blocks(
                    shape: [1, 2, 41, 10], grid: ProcessGrid(shape: [1, 1, comm.size, 1]),
                    halo: [0, 0, 2, 2], ranks: comm.size)
                return copyCheck(comm, from: layout, to: layout, as: Int.self, inPlace: true)
            }
        ),
        (
            "wide-halo",
            { comm in
                // 10 rows over 4 ranks: 3 + 3 + 2 + 2, read with 5 rows of halo per side.
                let layout = TensorLayout.blocks(
                    shape: [1, 2, 10, 7], grid: ProcessGrid(shape: [1, 1, comm.size, 1]),
                    halo: [0, 0, 5, 1], ranks: comm.size)
                return copyCheck(comm, from: layout, to: layout, as: Float.self, inPlace: true)
            }
        ),
        (
            "spatial-batch",
            { comm in
                let (a, b) = factor2(comm.size)
                let shape = [8, 3, 12, 10]
                let spatial = TensorLayout.blocks(
                    shape: shape, grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 1, 1], ranks: comm.size)
                let batch = TensorLayout.blocks(shape: shape, grid: ProcessGrid(shape: [comm.size, 1, 1, 1]))
                return copyCheck(comm, from: spatial, to: batch, as: Float.self)
                    + copyCheck(comm, from: batch, to: spatial, as: Float.self)
            }
        ),
        (
            "gather",
            { comm in
                let (a, b) = factor2(comm.size)
                let shape = [2, 3, 9, 7]
                let blocks = TensorLayout.blocks(
                    shape: shape, grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 1, 1], ranks: comm.size)
                return copyCheck(comm, from: blocks, to: .whole(shape: shape, on: 0, ranks: comm.size), as: Float.self)
            }
        ),
        (
            "scatter",
            { comm in
                let (a, b) = factor2(comm.size)
                let shape = [2, 3, 9, 7]
                let blocks = TensorLayout.blocks(
                    shape: shape, grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 1, 1], ranks: comm.size)
                return copyCheck(comm, from: .whole(shape: shape, on: 0, ranks: comm.size), to: blocks, as: Float.self)
            }
        ),
        (
            "weights-8d",
            { comm in
                // Untied weights W[Cout, SY, SX, Cin, KH, KW, TY, TX] sharded over the tiles,
                // gathered whole to rank 0 (a checkpoint) and scattered back.
                let (a, b) = factor2(comm.size)
                let shape = [3, 2, 2, 2, 3, 3, 4, 5]
                let tiles = TensorLayout.blocks(shape: shape, grid: ProcessGrid(shape: [1, 1, 1, 1, 1, 1, a, b]))
                let root = TensorLayout.whole(shape: shape, on: 0, ranks: comm.size)
                return copyCheck(comm, from: tiles, to: root, as: Float.self)
                    + copyCheck(comm, from: root, to: tiles, as: Float.self)
            }
        ),
        (
            "overlapping-writers",
            { comm in
                // Every rank writes its block plus two cells around it; everyone reads the whole.
                let (a, b) = factor2(comm.size)
                let shape = [1, 2, 10, 9]
                let haloed = TensorLayout.blocks(
                    shape: shape, grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 2, 2], ranks: comm.size)
                let writers = TensorLayout(shape: shape, rects: haloed.read)
                return copyCheck(comm, from: writers, to: .replicated(shape: shape, ranks: comm.size), as: Float.self)
            }
        ),
        (
            "idle-rank",
            { comm in
                // The source leaves the last rank empty (when there are two or more).
                let shape = [1, 1, 11, 5]
                let parts = max(1, comm.size - 1)
                let fewer = TensorLayout.blocks(
                    shape: shape, grid: ProcessGrid(shape: [1, 1, parts, 1]), ranks: comm.size)
                let all = TensorLayout.blocks(
                    shape: shape, grid: ProcessGrid(shape: [1, 1, comm.size, 1]),
                    halo: [0, 0, 1, 0], ranks: comm.size)
                return copyCheck(comm, from: fewer, to: all, as: Float.self)
                    + copyCheck(comm, from: all, to: fewer, as: Float.self)
            }
        ),
        (
            "reverse-halo",
            { comm in
                let (a, b) = factor2(comm.size)
                let square = TensorLayout.blocks(
                    shape: [2, 3, 13, 11], grid: ProcessGrid(shape: [1, 1, a, b]),
                    halo: [0, 0, 2, 1], ranks: comm.size)
                let wide = TensorLayout.blocks(
                    shape: [1, 2, 10, 7], grid: ProcessGrid(shape: [1, 1, comm.size, 1]),
                    halo: [0, 0, 5, 0], ranks: comm.size)
                return accumulateCheck(comm, from: square.mirrored, to: square.mirrored, inPlace: true)
                    + accumulateCheck(comm, from: wide.mirrored, to: wide.mirrored, inPlace: true)
            }
        ),
        (
            "reduce-scatter",
            { comm in
                // The dump's classifier.linear1.output ([256, 3034, 1, 1], with a smaller batch
                // here): partial sums written whole by every rank, read as batch blocks.
                let shape = [24, 3034, 1, 1]
                let partials = TensorLayout.replicated(shape: shape, ranks: comm.size)
                let batch = TensorLayout.blocks(shape: shape, grid: ProcessGrid(shape: [comm.size, 1, 1, 1]))
                let small = [12, 5, 1, 1]
                return accumulateCheck(comm, from: partials, to: batch, inPlace: false)
                    + accumulateCheck(
                        comm, from: .replicated(shape: small, ranks: comm.size),
                        to: .blocks(shape: small, grid: ProcessGrid(shape: [comm.size, 1, 1, 1])),
                        inPlace: true, targetStorage: Rect(shape: small))
            }
        ),
        (
            "cache",
            { comm in
                let cache = RedistributionCache(communicator: comm)
                let layout = TensorLayout.blocks(
                    shape: [1, 1, 6, 6], grid: ProcessGrid(shape: [1, 1, comm.size, 1]),
                    halo: [0, 0, 1, 1], ranks: comm.size)
                let first = cache.haloExchange(layout)
                let again = cache.haloExchange(
                    TensorLayout.blocks(
                        shape: [1, 1, 6, 6], grid: ProcessGrid(shape: [1, 1, comm.size, 1]),
                        halo: [0, 0, 1, 1], ranks: comm.size))
                let reverse = cache.reverseHaloExchange(layout)
                var failures: [String] = []
                if first !== again { failures.append("equal layouts gave two redistributions") }
                if first === reverse || cache.count != 2 { failures.append("cache holds \(cache.count), expected 2") }
                if reverse.plan.mode != .accumulate { failures.append("reverse halo in \(reverse.plan.mode) mode") }
                return failures
            }
        ),
    ]
}

/// Copy mode: writer `q` writes `formula + 200000 q` (plus a million per round), so the
/// check also sees that each element came from the right writer: the reader itself when
/// it writes the element, else the lowest writer.
func copyCheck<T: CheckScalar>(
    _ comm: Communicator, from a: TensorLayout, to b: TensorLayout, as _: T.Type,
    inPlace: Bool = false, rounds: Int = 1
) -> [String] {
    let r = comm.rank
    let shape = a.shape
    let exchange = Redistribution(from: a, to: b, mode: .copy, communicator: comm)
    func value(_ p: [Int], writer q: Int, round: Int) -> Double {
        formula(p, shape: shape) + 200_000 * Double(q) + 1_000_000 * Double(round)
    }
    func owner(_ p: [Int]) -> Int? {
        a.write[r].contains(point: p) ? r : (0..<a.ranks).first { a.write[$0].contains(point: p) }
    }
    var failures: [String] = []
    for round in 0..<rounds {
        let source: [T] = filled(exchange.sourceStorage) {
            a.write[r].contains(point: $0) ? value($0, writer: r, round: round) : nil
        }
        var destination: [T]
        if inPlace {
            destination = source
            exchange.execute(&destination)
        } else {
            destination = filled(exchange.targetStorage) { _ in nil }
            exchange.execute(from: source, into: &destination)
        }
        failures += mismatches(
            "round \(round)", destination, storage: exchange.targetStorage, region: exchange.targetStorage
        ) { p in
            guard b.read[r].contains(point: p) else {
                return inPlace && a.write[r].contains(point: p) ? value(p, writer: r, round: round) : -7
            }
            return owner(p).map { value(p, writer: $0, round: round) } ?? -7
        }
    }
    return failures
}

/// Accumulate mode: writer `q` contributes `formula * (q + 1)`; every read element must
/// hold the sum over the ranks that write it (plus, in place, nothing else).
func accumulateCheck(
    _ comm: Communicator, from a: TensorLayout, to b: TensorLayout, inPlace: Bool,
    targetStorage: Rect? = nil
) -> [String] {
    let r = comm.rank
    let shape = a.shape
    let exchange = Redistribution(
        from: a, to: b, mode: .accumulate, communicator: comm,
        sourceStorage: targetStorage, targetStorage: targetStorage)
    func contribution(_ p: [Int], _ q: Int) -> Double { formula(p, shape: shape) * Double(q + 1) }
    let source: [Float] = filled(exchange.sourceStorage) { a.write[r].contains(point: $0) ? contribution($0, r) : 0 }
    var destination: [Float]
    if inPlace {
        destination = source
        exchange.execute(&destination)
    } else {
        destination = filled(exchange.targetStorage) { _ in 0 }
        exchange.execute(from: source, into: &destination)
    }
    return mismatches("\(a.shape) accumulate", destination, storage: exchange.targetStorage, region: b.read[r]) { p in
        (0..<a.ranks).filter { a.write[$0].contains(point: p) }.reduce(0) { $0 + contribution(p, $1) }
    }
}

/// One rank hands the exchange a buffer one element short; the job must end with that
/// rank's reason instead of leaving the others waiting for its messages.
func checkFailingExchange(_ comm: Communicator, _ args: [String]) throws -> [String] {
    let failing = min(2, comm.size - 1)
    let (a, b) = factor2(comm.size)
    let layout = TensorLayout.blocks(
        shape: [1, 4, 32, 32], grid: ProcessGrid(shape: [1, 1, a, b]),
        halo: [0, 0, 1, 1], ranks: comm.size)
    let halo = Redistribution(from: layout, to: layout, mode: .copy, communicator: comm)
    var buffer = [Float](repeating: 1, count: halo.sourceStorage.volume - (comm.rank == failing ? 1 : 0))
    halo.execute(&buffer)
    return comm.rank == failing ? ["a short buffer on rank \(failing) did not abort the exchange"] : []
}
