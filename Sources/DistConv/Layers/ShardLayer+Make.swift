import Kernels

extension ShardRegions {
    /// The layer that runs `op` on these rects: the one place that maps an op kind to its
    /// layer type. Shape errors (a kernel larger than its input) are the model's fault and
    /// name the op.
    func layer(for op: Op, source: String) throws -> any ShardLayer {
        do {
            switch op.kind {
            case .data: preconditionFailure("the data op has no layer; the loader fills its consumers' inputs")
            case .conv2d(let s): return try ConvolutionLayer(op: op, spec: s, regions: self)
            case .locallyConnected(let s): return try LocallyConnectedLayer(op: op, spec: s, regions: self)
            case .affine: return AffineLayer(regions: self)
            case .activation(let a): return ActivationLayer(function: a, regions: self)
            case .pool(let s): return try PoolingLayer(op: op, spec: s, regions: self)
            case .batchNorm(let s): return BatchNormalizationLayer(spec: s, regions: self)
            case .dropout(let ratio): return DropoutLayer(ratio: ratio, shape: op.outputShape, rect: output)
            case .flatten: return FlattenLayer()
            case .linear(let s): return LinearLayer(op: op, spec: s, regions: self)
            case .loss(let kind):
                return LossLayer(kind: kind, batch: input.size[0], classes: input.size[1], firstRow: input.origin[0])
            case .evaluate:
                return EvaluateLayer(loss: .softmaxCrossEntropy, batch: input.size[0], classes: input.size[1],
                                     firstRow: input.origin[0])
            }
        } catch {
            throw ModelError(file: source, op: op.name, "\(error)")
        }
    }
}
