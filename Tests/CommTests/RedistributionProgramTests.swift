import Geometry
import TestSupport
import Testing

@testable import Comm

/// The executor's packing and unpacking, with MPI replaced by handing each rank's packed
/// messages to their receivers: every rank of a random layout pair at once, in one
/// process. Messages that are one contiguous run of a buffer are taken from it, or put
/// into it, as the executor sends and receives them. The MPI side is covered by the
/// integration tests.
@Suite struct RedistributionProgramTests {
    /// Runs a redistribution over simulated ranks. `buffers[r]` is rank r's source buffer;
    /// the result is every rank's destination buffer (`destinations`, or in place
    /// `buffers` itself).
    func simulate<T: MPIScalar>(
        _ programs: [RedistributionProgram], sources: [[T]], destinations: inout [[T]], inPlace: Bool
    ) {
        let packed: [[T]] = programs.indices.map { q in
            var scratch = [T](unsafeUninitializedCapacity: programs[q].sendCount) { _, n in n = programs[q].sendCount }
            sources[q].withUnsafeBufferPointer { s in
                scratch.withUnsafeMutableBufferPointer { out in
                    for m in programs[q].sends {
                        if let run = m.contiguousOffset {
                            out.baseAddress!.advanced(by: m.offset).update(from: s.baseAddress! + run, count: m.count)
                        } else {
                            programs[q].pack(m, from: s.baseAddress!, into: out.baseAddress!)
                        }
                    }
                }
            }
            return scratch
        }
        for r in programs.indices {
            let program = programs[r]
            var incoming: [T] = []
            for m in program.receives {
                let sender = programs[m.peer].sends.first { $0.peer == r }!
                #expect(sender.count == m.count, "\(m.peer) -> \(r)")
                incoming += packed[m.peer][sender.offset..<(sender.offset + sender.count)]
            }
            incoming.withUnsafeBufferPointer { scratch in
                destinations[r].withUnsafeMutableBufferPointer { d in
                    for m in program.receives {
                        if program.receivesInPlace(m), let run = m.contiguousOffset {
                            (d.baseAddress! + run).update(from: scratch.baseAddress! + m.offset, count: m.count)
                        } else {
                            program.unpack(m, from: scratch.baseAddress!, into: d.baseAddress!)
                        }
                    }
                    if !inPlace && !program.local.isEmpty {
                        sources[r].withUnsafeBufferPointer { s in
                            program.copyLocal(from: s.baseAddress!, into: d.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// Writer q's value at p: the formula plus a writer mark, so the test sees who sent it.
    func written(_ p: [Int], _ shape: [Int], by q: Int) -> Double { formula(p, shape: shape) + 1_000_000 * Double(q) }

    @Test(arguments: [RedistributionMode.copy, .accumulate])
    func outOfPlaceMatchesTheRule(mode: RedistributionMode) {
        var rng = SplitMix64(seed: 0xE8EC_0001)
        for _ in 0..<RedistributionPlanTests.cases {
            let (a, b) = RandomLayouts.pair(&rng)
            let shape = a.shape
            let programs = (0..<a.ranks).map { r in
                RedistributionProgram(
                    plan: RedistributionPlan(from: a, to: b, rank: r, mode: mode),
                    sourceStorage: a.storage(rank: r), targetStorage: b.storage(rank: r))
            }
            let sources: [[Double]] = (0..<a.ranks).map { q in
                a.storage(rank: q).points.map { written($0, shape, by: q) }
            }
            let initial = mode == .copy ? -1.0 : 0.25
            var destinations = (0..<a.ranks).map { [Double](repeating: initial, count: b.storage(rank: $0).volume) }
            simulate(programs, sources: sources, destinations: &destinations, inPlace: false)
            for r in 0..<a.ranks {
                let storage = b.storage(rank: r)
                for p in storage.points {
                    let writers = (0..<a.ranks).filter { a.write[$0].contains(point: p) }
                    var expected = initial
                    if b.read[r].contains(point: p) && !writers.isEmpty {
                        switch mode {
                        case .copy:
                            expected = written(p, shape, by: writers.contains(r) ? r : writers[0])
                        case .accumulate:
                            expected += writers.reduce(0) { $0 + written(p, shape, by: $1) }
                        }
                    }
                    let actual = destinations[r][storage.linearIndex(of: p)]
                    #expect(actual == expected, "\(mode) rank \(r) at \(p)")
                }
            }
        }
    }

    @Test func haloInPlaceFillsEveryHalo() {
        var rng = SplitMix64(seed: 0x4A10_0002)
        for _ in 0..<RedistributionPlanTests.cases {
            let shape = RandomLayouts.shape(&rng)
            let ranks = RandomLayouts.int(1...6, &rng)
            let grid = RandomLayouts.grid(for: shape, ranks: ranks, &rng)
            let layout = TensorLayout.blocks(
                shape: shape, grid: grid, halo: shape.map { _ in RandomLayouts.int(0...3, &rng) },
                ranks: ranks)
            let programs = (0..<ranks).map { r in
                RedistributionProgram(
                    plan: RedistributionPlan(from: layout, to: layout, rank: r, mode: .copy),
                    sourceStorage: layout.storage(rank: r), targetStorage: layout.storage(rank: r))
            }
            var buffers: [[Float]] = (0..<ranks).map { r in
                layout.read[r].points.map {
                    layout.write[r].contains(point: $0) ? Float(formula($0, shape: shape)) : -1
                }
            }
            let before = buffers
            simulate(programs, sources: before, destinations: &buffers, inPlace: true)
            for r in 0..<ranks {
                let expected = layout.read[r].points.map { Float(formula($0, shape: shape)) }
                #expect(buffers[r] == expected, "rank \(r) of \(layout)")
            }
        }
    }

    @Test func reverseHaloInPlaceSumsIntoOwners() {
        var rng = SplitMix64(seed: 0x4A10_0003)
        for _ in 0..<RedistributionPlanTests.cases {
            let shape = RandomLayouts.shape(&rng)
            let ranks = RandomLayouts.int(1...6, &rng)
            let grid = RandomLayouts.grid(for: shape, ranks: ranks, &rng)
            let layout = TensorLayout.blocks(
                shape: shape, grid: grid, halo: shape.map { _ in RandomLayouts.int(0...3, &rng) },
                ranks: ranks)
            let gradient = layout.mirrored
            let programs = (0..<ranks).map { r in
                RedistributionProgram(
                    plan: RedistributionPlan(from: gradient, to: gradient, rank: r, mode: .accumulate),
                    sourceStorage: gradient.storage(rank: r), targetStorage: gradient.storage(rank: r))
            }
            var buffers: [[Float]] = (0..<ranks).map { r in
                layout.read[r].points.map { Float(formula($0, shape: shape)) }
            }
            let before = buffers
            simulate(programs, sources: before, destinations: &buffers, inPlace: true)
            for r in 0..<ranks {
                let storage = layout.read[r]
                for p in layout.write[r].points {
                    let contributors = (0..<ranks).filter { layout.read[$0].contains(point: p) }.count
                    #expect(
                        buffers[r][storage.linearIndex(of: p)] == Float(formula(p, shape: shape)) * Float(contributors),
                        "rank \(r) at \(p)")
                }
            }
        }
    }
}
