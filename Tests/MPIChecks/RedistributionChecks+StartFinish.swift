import Comm
import Geometry

/// `start`, independent work (calling `progress` now and then), `finish` against
/// `execute` of the same exchange: the results must be bitwise equal, and whatever the
/// work reads of the destination outside `incomingRegions` while the messages travel must
/// already hold its final value (that is what lets a convolution compute its interior
/// early). Values are not exact in Float, so
/// in accumulate mode a different order of additions would show.
func startFinishCheck(
    _ comm: Communicator, _ layout: TensorLayout, mode: RedistributionMode, inPlace: Bool
) -> [String] {
    let r = comm.rank
    let pattern = mode == .copy ? layout : layout.mirrored
    let exchange = Redistribution(from: pattern, to: pattern, mode: mode, communicator: comm)
    let shape = layout.shape
    func contribution(_ p: [Int], _ q: Int) -> Float { Float(formula(p, shape: shape) * 1.37e-3 + 0.1 * Double(q + 1)) }
    let source: [Float] = filled(exchange.sourceStorage) {
        pattern.write[r].contains(point: $0) ? Double(contribution($0, r)) : nil
    }
    let initial: [Float] =
        inPlace ? source : filled(exchange.targetStorage) { _ in mode == .copy ? nil : 0.3 }
    var expected = initial
    if inPlace {
        exchange.execute(&expected)
    } else {
        exchange.execute(from: source, into: &expected)
    }

    let storage = exchange.targetStorage
    let incoming = exchange.incomingRegions
    let early = storage.points.enumerated().compactMap { i, p in
        incoming.contains { $0.contains(point: p) } ? nil : i
    }
    var overlapped = initial
    var seen = [Float](repeating: 0, count: early.count)
    source.withUnsafeBufferPointer { s in
        overlapped.withUnsafeMutableBufferPointer { d in
            let pending = inPlace ? exchange.start(d) : exchange.start(from: s, into: d)
            // The independent work: read what is final already, into a buffer of its own.
            for (k, i) in early.enumerated() {
                seen[k] = d[i]
                if k % 64 == 0 { pending.progress() }
            }
            pending.finish()
        }
    }
    let what = "\(shape) \(mode) \(inPlace ? "in place" : "out of place")"
    var failures: [String] = []
    let differing = zip(overlapped, expected).filter { $0.bitPattern != $1.bitPattern }.count
    if differing > 0 { failures.append("\(what): \(differing) elements differ from execute's") }
    let notFinal = zip(early, seen).filter { expected[$0].bitPattern != $1.bitPattern }.count
    if notFinal > 0 {
        failures.append("\(what): \(notFinal) elements outside the incoming regions were not final after start")
    }
    if mode == .accumulate {
        // The documented order, in Float: what the destination held (plus, out of place,
        // the rank's own part), then every other writer by ascending rank.
        var wrong = 0
        for (i, p) in storage.points.enumerated() where pattern.read[r].contains(point: p) {
            var sum: Float = inPlace ? source[i] : 0.3 + contribution(p, r)
            for q in 0..<comm.size where q != r && pattern.write[q].contains(point: p) { sum += contribution(p, q) }
            if sum.bitPattern != expected[i].bitPattern { wrong += 1 }
        }
        if wrong > 0 { failures.append("\(what): \(wrong) sums not added in rank order") }
    }
    // Every layout of the scenario splits over all ranks with a halo: each rank receives.
    if comm.size > 1 && incoming.isEmpty { failures.append("\(what): no incoming regions") }
    return failures
}

/// The start/finish scenario: NCHW and the same tensor blocked (`[N, C/16, H, W, 16]`),
/// copy (halo) and accumulate (reverse halo), in place and out of place.
func startFinishScenario(_ comm: Communicator) -> [String] {
    let (a, b) = factor2(comm.size)
    let nchw = TensorLayout.blocks(
        shape: [2, 16, 12, 10], grid: ProcessGrid(shape: [1, 1, a, b]), halo: [0, 0, 1, 2], ranks: comm.size)
    let blocked = TensorLayout.blocks(
        shape: [2, 1, 12, 10, 16], grid: ProcessGrid(shape: [1, 1, a, b, 1]), halo: [0, 0, 1, 2, 0],
        ranks: comm.size)
    // Rows of a single channel split along H only travel straight from and into the buffer.
    let rows = TensorLayout.blocks(
        shape: [1, 1, 4 * comm.size, 9], grid: ProcessGrid(shape: [1, 1, comm.size, 1]), halo: [0, 0, 2, 1],
        ranks: comm.size)
    // Rows of two images 128 pixels wide, blocked: one MPI message per image's run.
    let runs = TensorLayout.blocks(
        shape: [2, 1, 4 * b, 128 * a, 16], grid: ProcessGrid(shape: [1, 1, b, a, 1]), halo: [0, 0, 1, 1, 0],
        ranks: comm.size)
    var failures: [String] = []
    for layout in [nchw, blocked, rows, runs] {
        for mode in [RedistributionMode.copy, .accumulate] {
            for inPlace in [true, false] {
                failures += startFinishCheck(comm, layout, mode: mode, inPlace: inPlace)
            }
        }
    }
    return failures
}
