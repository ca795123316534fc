import DistConv
import TestSupport
import Testing

@Suite struct PlanningArenaTests {
    @Test func lowerBoundIsTheMostBytesAliveAtOnce() {
        let r = [
            ArenaRequest(size: 10, lifetime: 0...2), ArenaRequest(size: 5, lifetime: 2...3),
            ArenaRequest(size: 7, lifetime: 3...4),
        ]
        #expect(ArenaAllocator.liveBytes(r) == [10, 10, 15, 12, 7])
        #expect(ArenaAllocator.lowerBound(r) == 15)
        #expect(ArenaAllocator.lowerBound([]) == 0)
    }

    @Test func buffersThatNeverMeetShareBytes() {
        let r = [ArenaRequest(size: 8, lifetime: 0...1), ArenaRequest(size: 8, lifetime: 2...3)]
        for s in ArenaStrategy.allCases {
            let a = ArenaAllocator.assign(r, strategy: s)
            #expect(a.offsets == [0, 0] && a.size == 8, "\(s)")
        }
    }

    @Test func nestedLifetimesPackToTheLowerBound() {
        // A forward/backward chain: activation k lives from step k to step 2n-k.
        let n = 12
        let r = (0..<n).map { ArenaRequest(size: 100 + 37 * $0, lifetime: $0...(2 * n - $0)) }
        let a = ArenaAllocator.assign(r, strategy: .bestFit)
        #expect(a.size == ArenaAllocator.lowerBound(r))
    }

    @Test(arguments: ArenaStrategy.allCases)
    func randomRequestsNeverOverlapAndRespectTheBound(strategy: ArenaStrategy) {
        var g = SplitMix64(seed: 42)
        for _ in 0..<40 {
            let r = (0..<Int.random(in: 1...40, using: &g)).map { _ in
                let start = Int.random(in: 0...30, using: &g)
                return ArenaRequest(
                    size: Int.random(in: 0...1000, using: &g),
                    lifetime: start...(start + Int.random(in: 0...10, using: &g)))
            }
            let a = ArenaAllocator.assign(r, strategy: strategy)
            #expect(ArenaAllocator.firstConflict(r, offsets: a.offsets) == nil)
            #expect(a.size >= ArenaAllocator.lowerBound(r))
            #expect(a.size == zip(r, a.offsets).map { $0.size + $1 }.max())
        }
    }
}
