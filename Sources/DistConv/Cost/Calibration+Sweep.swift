import Foundation
import Kernels

extension Calibration {
    /// The sample works timed without `--model`: every work of the default model (on
    /// Fashion-MNIST) and of the large-image conv stack (`examples/conv-stack.json`,
    /// synthetic) under each fixed policy at 1, 2 and 4 ranks, so that their predictions
    /// find exact samples, and families of shapes of every kind from small shards to
    /// VGG-19's layers at 64 to 512 channels, between which a lookup interpolates.
    /// Quick: the default model at one rank and one or two shapes of every kind.
    public static func sweep(quick: Bool) -> [KernelWork] { sweepWithLayouts(quick: quick).map(\.work) }

    /// The sweep, each work with the layout its kernel reads (nil: its block's).
    static func sweepWithLayouts(quick: Bool) -> [(work: KernelWork, input: ActivationLayout?)] {
        var works: [(work: KernelWork, input: ActivationLayout?)] = []
        if let model = try? Model(file: ModelFile(json: Data(ModelFile.defaultModelJSON.utf8), source: "default"),
                                  source: "default") {
            works += ((try? Self.plannedWorks(of: model, data: "idx", rankCounts: quick ? [1] : [1, 2, 4])) ?? [])
                .map { ($0.work, $0.input) }
        }
        if !quick, let model = try? Model(file: ModelFile(json: Data(convStackJSON.utf8), source: "conv-stack"),
                                          source: "conv-stack") {
            works += ((try? Self.plannedWorks(of: model, data: "synthetic", rankCounts: [1, 2, 4])) ?? [])
                .map { ($0.work, $0.input) }
        }
        // A first convolution reads NCHW data (block 1 marks it in the families).
        return works + (quick ? quickFamilies : families).map { w in
            guard w.kind.isConvolution, w.block == 1 else { return (w, nil) }
            var blocked = w
            blocked.block = ActivationLayout.preferred.blockSize
            return (blocked, .nchw)
        }
    }

    /// `examples/conv-stack.json`.
    static let convStackJSON = """
        {"format": "distconv-model", "version": 1, "name": "conv-stack", "ops": [
         {"name": "data", "type": "data", "shape": [1, 16, 1024, 1024], "classes": 10},
         {"name": "conv1", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]},
         {"name": "relu1", "type": "relu"},
         {"name": "conv2", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]},
         {"name": "relu2", "type": "relu"},
         {"name": "conv3", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]},
         {"name": "relu3", "type": "relu"},
         {"name": "conv4", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]},
         {"name": "relu4", "type": "relu"},
         {"name": "conv5", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]},
         {"name": "relu5", "type": "relu"},
         {"name": "pool", "type": "avg_pool", "kernel": [32, 32], "stride": [32, 32]},
         {"name": "fc", "type": "linear", "out_features": 10},
         {"name": "loss", "type": "softmax_cross_entropy"}]}
        """

    /// Shapes of every kind, VGG-like at 64..512 channels and small shards.
    static var families: [KernelWork] {
        var w: [KernelWork] = []
        let convs = [(3, 64, 112, 1), (64, 64, 56, 16), (64, 64, 112, 16), (128, 128, 56, 16), (128, 128, 28, 16),
                     (256, 256, 28, 16), (256, 256, 14, 16), (512, 512, 14, 16), (512, 512, 7, 16), (64, 128, 56, 16),
                     (16, 16, 64, 16), (32, 32, 32, 16)]
        for (c, f, s, block) in convs {
            for kind in [KernelWork.Kind.convolutionForward, .convolutionBackwardData, .convolutionBackwardWeights] {
                w.append(KernelWork(kind: kind, input: [1, c, s + 2, s + 2], output: [1, f, s, s], window: [3, 3, 1, 1],
                                    block: block))
            }
        }
        for (c, s) in [(64, 112), (128, 56), (256, 28), (512, 14), (16, 64)] {
            for kind in [KernelWork.Kind.poolingForward, .poolingBackward] {
                w.append(KernelWork(kind: kind, input: [1, c, s, s], output: [1, c, s / 2, s / 2], window: [2, 2, 2, 2],
                                    block: 16, variant: "max"))
            }
        }
        for (c, s) in [(16, 16), (64, 56), (64, 224), (512, 14)] {
            for block in [1, 16] {
                for kind in [KernelWork.Kind.elementwiseForward, .elementwiseBackward] {
                    w.append(KernelWork(kind: kind, input: [1, c, s, s], output: [1, c, s, s], block: block, variant: "relu"))
                }
                for kind in [KernelWork.Kind.batchNormForward, .batchNormBackward] {
                    w.append(KernelWork(kind: kind, input: [1, c, s, s], output: [1, c, s, s], block: block))
                }
            }
            w.append(KernelWork(kind: .reorder, input: [1, c, s, s], output: [1, c, s, s], block: 16))
            w.append(KernelWork(kind: .reorder, input: [1, c, s, s], output: [1, c, s, s], block: 16, variant: "to_nchw"))
        }
        for (n, k, m) in [(8, [512, 7, 7], 256), (8, [4096, 1, 1], 4096), (8, [4096, 1, 1], 1000), (64, [32, 7, 7], 10)] {
            for kind in [KernelWork.Kind.linearForward, .linearBackwardData, .linearBackwardWeights] {
                w.append(KernelWork(kind: kind, input: [n] + k, output: [n, m, 1, 1]))
            }
        }
        for kind in [KernelWork.Kind.locallyConnectedForward, .locallyConnectedBackwardData,
                     .locallyConnectedBackwardWeights] {
            w.append(KernelWork(kind: kind, input: [4, 1, 41, 41], output: [4, 8, 64, 64], window: [10, 10, 2, 2],
                                variant: "tile 4x4"))
        }
        for (n, c) in [(32, 1000), (64, 10), (4, 10)] {
            w.append(KernelWork(kind: .loss, input: [n, c, 1, 1], output: [n, 1, 1, 1], variant: "softmax_cross_entropy"))
            w.append(KernelWork(kind: .loss, input: [n, c, 1, 1], output: [n, c, 1, 1],
                                variant: "softmax_cross_entropy_backward"))
        }
        for shape in [[8, 3, 224, 224], [1, 16, 256, 256], [64, 1, 28, 28]] {
            w.append(KernelWork(kind: .dataLoad, input: [], output: shape, variant: "synthetic"))
            w.append(KernelWork(kind: .dataLoad, input: [], output: shape, variant: "npy"))
        }
        w.append(KernelWork(kind: .dataLoad, input: [], output: [16, 1, 28, 28], variant: "idx"))
        for count in [1_000, 100_000, 3_000_000] {
            for variant in ["momentum", "sgd", "adam"] {
                w.append(KernelWork(kind: .optimizerUpdate, input: [], output: [count], variant: variant))
            }
        }
        return w
    }

    /// One or two shapes of every kind, small enough for a debug build.
    static var quickFamilies: [KernelWork] {
        var w: [KernelWork] = []
        for kind in [KernelWork.Kind.convolutionForward, .convolutionBackwardData, .convolutionBackwardWeights] {
            w.append(KernelWork(kind: kind, input: [1, 16, 34, 34], output: [1, 16, 32, 32], window: [3, 3, 1, 1], block: 16))
            w.append(KernelWork(kind: kind, input: [1, 1, 4, 4], output: [1, 2, 2, 2], window: [3, 3, 1, 1]))
        }
        for kind in [KernelWork.Kind.poolingForward, .poolingBackward] {
            w.append(KernelWork(kind: kind, input: [1, 16, 32, 32], output: [1, 16, 16, 16], window: [2, 2, 2, 2],
                                block: 16, variant: "max"))
        }
        for kind in [KernelWork.Kind.elementwiseForward, .elementwiseBackward] {
            w.append(KernelWork(kind: kind, input: [1, 16, 32, 32], output: [1, 16, 32, 32], block: 16, variant: "relu"))
        }
        for kind in [KernelWork.Kind.batchNormForward, .batchNormBackward] {
            w.append(KernelWork(kind: kind, input: [1, 16, 32, 32], output: [1, 16, 32, 32], block: 16))
        }
        for kind in [KernelWork.Kind.linearForward, .linearBackwardData, .linearBackwardWeights] {
            w.append(KernelWork(kind: kind, input: [8, 64, 1, 1], output: [8, 10, 1, 1]))
        }
        for kind in [KernelWork.Kind.locallyConnectedForward, .locallyConnectedBackwardData,
                     .locallyConnectedBackwardWeights] {
            w.append(KernelWork(kind: kind, input: [1, 1, 13, 13], output: [1, 4, 10, 10], window: [4, 4, 2, 2],
                                variant: "tile 2x2"))
        }
        w.append(KernelWork(kind: .loss, input: [8, 10, 1, 1], output: [8, 1, 1, 1], variant: "softmax_cross_entropy"))
        w.append(KernelWork(kind: .reorder, input: [1, 16, 16, 16], output: [1, 16, 16, 16], block: 16))
        w.append(KernelWork(kind: .dataLoad, input: [], output: [4, 1, 28, 28], variant: "synthetic"))
        w.append(KernelWork(kind: .dataLoad, input: [], output: [4, 1, 28, 28], variant: "npy"))
        w.append(KernelWork(kind: .optimizerUpdate, input: [], output: [10_000], variant: "momentum"))
        w.append(KernelWork(kind: .reorder, input: [1, 16, 16, 16], output: [1, 16, 16, 16], block: 16, variant: "to_nchw"))
        return w
    }
}

extension KernelWork.Kind {
    var isConvolution: Bool { [.convolutionForward, .convolutionBackwardData, .convolutionBackwardWeights].contains(self) }
}

extension MachineProfile {
    /// No samples, no links: for listing works with `StepCostModel`'s rules.
    static var empty: MachineProfile {
        MachineProfile(machine: "", ranksPerNode: 1, copy: LinkCost(alpha: 0, beta: 0), intraNode: LinkCost(alpha: 0, beta: 0),
                       interNode: LinkCost(alpha: 0, beta: 0), kernels: [])
    }
}
