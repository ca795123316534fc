import Geometry
import Kernels
import Testing
import TestSupport

// Which form backward-data takes at stride 1 depends on the channels (transposedPlan):
// the transposed convolution when a group has no more output than input channels, GEMM +
// col2im otherwise. Both forms at the default model's shapes and on either side of the
// rule, against the naive twin and assembled from shards, and output-channel blocks on
// the transposed form (the existing block case, 4 -> 6, now takes GEMM + col2im).

let formCases: [ConvCase] = [
    // The default model's conv2 (16 -> 32, GEMM + col2im) and its mirror (32 -> 16, transposed), small batch.
    ConvCase(n: 2, c: 16, f: 32, h: 14, w: 14, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1 << 19),
    ConvCase(n: 2, c: 32, f: 16, h: 14, w: 14, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1 << 19),
    // conv1 (1 -> 16), one-row bands.
    ConvCase(n: 2, c: 1, f: 16, h: 28, w: 28, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, budget: 1),
]

@Suite struct ConvolutionBackwardDataTests {
    @Test(arguments: formCases)
    func bothFormsMatchTheNaiveTwin(_ cc: ConvCase) throws {
        try ConvolutionTests().matchesNaiveTwin(cc)
    }

    @Test(arguments: formCases.flatMap { c in shardGrids.map { ShardCase(conv: c, grid: $0) } })
    func bothFormsAssembleFromShards(_ sc: ShardCase) throws {
        try ConvolutionShardTests().shardsAssembleToTheWholeTensor(sc)
    }

    /// Output-channel blocks crossing a group boundary on the transposed form (8 -> 6 in
    /// two groups: 4 input and 3 output channels a group).
    @Test func blocksOnTheTransposedForm() throws {
        try ConvolutionShardTests().outputChannelBlocksAssemble(
            ConvCase(n: 2, c: 8, f: 6, h: 7, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 2, budget: 1))
    }
}
