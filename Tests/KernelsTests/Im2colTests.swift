import Geometry
import Kernels
import Testing
import TestSupport

// im2col fills small bands tap by tap through every channel and large ones channel by
// channel (Im2col.swift); the other tests' shapes are all small. Large bands here, on the
// contiguous path (stride 1) and the strided one, against the naive twin and from shards.

let largeBandCases: [ConvCase] = [
    ConvCase(n: 1, c: 16, f: 4, h: 48, w: 48, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1 << 19),
    ConvCase(n: 1, c: 16, f: 4, h: 64, w: 62, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1 << 19),
]

@Suite struct Im2colTests {
    @Test(arguments: largeBandCases)
    func largeBandsMatchTheNaiveTwin(_ cc: ConvCase) throws {
        try ConvolutionTests().matchesNaiveTwin(cc)
    }

    @Test(arguments: largeBandCases.map { ShardCase(conv: $0, grid: ProcessGrid(shape: [1, 1, 1, 2])) })
    func largeBandsAssembleFromShards(_ sc: ShardCase) throws {
        try ConvolutionShardTests().shardsAssembleToTheWholeTensor(sc)
    }
}
