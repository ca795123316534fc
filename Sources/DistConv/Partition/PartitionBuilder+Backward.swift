import Geometry

extension PartitionBuilder {
    func layout(_ name: String) -> TensorPartition {
        guard let i = index[name] else { preconditionFailure("no tensor \(name) listed before its gradient") }
        return tensors[i]
    }

    /// Gradients, their zeroing, the backward ops in reverse order, and the updates.
    mutating func addBackward(_ regions: [[ForwardRegions]]) {
        // Tensors that depend on a parameter: only they can carry a gradient.
        var dependsOnParameters = Set<String>()
        for op in model.ops where op.isDifferentiable {
            if !op.parameters.isEmpty || op.input.map(dependsOnParameters.contains) == true {
                dependsOnParameters.formUnion(op.outputs)
            }
        }
        // Walk back from the losses: an op runs backward when one of its outputs has a gradient.
        var hasGradient = Set(model.ops.filter(\.isLoss).map { $0.outputs[0] }.filter(dependsOnParameters.contains))
        var backward: [Int] = []
        for (i, op) in model.ops.enumerated().reversed() where op.isDifferentiable {
            guard op.outputs.contains(where: hasGradient.contains) else { continue }
            backward.append(i)
            if let input = op.input, dependsOnParameters.contains(input) { hasGradient.insert(input) }
        }

        // Gradient tensors, each zeroed before the backward pass, in the order they are first written.
        var gradients: [String] = []
        for i in backward {
            let op = model.ops[i]
            for out in op.outputs where hasGradient.contains(out) && !gradients.contains(out) { gradients.append(out) }
            if let input = op.input, hasGradient.contains(input), !gradients.contains(input) { gradients.append(input) }
            for p in op.parameters where !gradients.contains(p) { gradients.append(p) }
        }
        let losses = Set(model.ops.filter(\.isLoss).map { $0.outputs[0] })
        for name in gradients {
            let t = layout(name)
            let grad: TensorPartition
            if t.role == .parameter {
                grad = TensorPartition(name: "\(name).grad", dim: t.dim, role: .parameterGradient,
                                    read: t.read, write: t.read, isPartialSum: false)
            } else if losses.contains(name) {
                // The loss's own gradient is the seed 1, applied inside the loss's backward:
                // no rank stores it.
                let empty = Rect.empty(dimensions: t.dim.count)
                grad = TensorPartition(name: "\(name).grad", dim: t.dim, role: .gradient,
                                    read: Array(repeating: empty, count: ranks),
                                    write: Array(repeating: empty, count: ranks), isPartialSum: false)
            } else {
                // The mirror image: a rank writes gradient into its whole read region and
                // reads back the region it owns once halo parts are summed into it.
                grad = TensorPartition(name: "\(name).grad", dim: t.dim, role: .gradient,
                                    read: t.write, write: t.read, isPartialSum: false)
            }
            let zeroed = grad.write.map { $0 ?? Rect.empty(dimensions: t.dim.count) }
            ops.append(OpPartition(
                name: "\(grad.name).set_zero", phase: .zeroGradient, forwardOp: nil, resultDim: t.dim,
                distInput: nil, distFilters: nil, distResult: zeroed, reads: [],
                writes: [.init(tensor: grad.name, rects: zeroed)]))
            add(grad)
        }

        for i in backward {
            let op = model.ops[i]
            // Every differentiable op reads an input.
            guard let forward = ops.first(where: { $0.name == op.name && $0.phase == .forward }),
                  let distInput = forward.distInput
            else { preconditionFailure("backward of \(op.name) without its forward op or its input") }
            let reg = regions[i]
            var reads: [OpPartition.Access] = []
            // A loss starts the backward pass from the seed 1 and reads no gradient.
            for (k, out) in op.outputs.enumerated() where hasGradient.contains(out) && !op.isLoss {
                reads.append(.init(tensor: "\(out).grad", rects: reg.map { $0.outputs[k] }))
            }
            reads += op.backwardReads(forward)
            var writes: [OpPartition.Access] = []
            if let input = op.input, hasGradient.contains(input) {
                writes.append(.init(tensor: "\(input).grad", rects: distInput))
            }
            for (p, (name, _)) in reg[0].parameters.enumerated() {
                writes.append(.init(tensor: "\(name).grad", rects: reg.map { $0.parameters[p].1 }))
            }
            // A loss's backward computes the gradient of its input block; other ops keep
            // the forward op's partition.
            let result = op.isLoss ? distInput : forward.distResult
            ops.append(OpPartition(
                name: "\(op.name).grad", phase: .backward, forwardOp: op.name, resultDim: forward.resultDim,
                distInput: forward.distInput, distFilters: forward.distFilters, distResult: result,
                reads: reads, writes: writes))
        }

        for name in gradients where layout(name).role == .parameter {
            let t = layout(name)
            let rects = t.read.map { $0 ?? Rect.empty(dimensions: t.dim.count) }
            ops.append(OpPartition(
                name: "update_\(name)", phase: .update, forwardOp: nil, resultDim: t.dim,
                distInput: nil, distFilters: nil, distResult: rects,
                reads: [.init(tensor: "\(name).grad", rects: rects)], writes: [.init(tensor: name, rects: rects)]))
        }
    }
}

extension Op {
    /// The forward tensors this op's backward pass reads, besides output gradients — what
    /// must stay alive until then: its layer's rule (`LayerPartitioning.backwardReads`).
    func backwardReads(_ forward: OpPartition) -> [OpPartition.Access] {
        kind.layerType.backwardReads(of: self, forward: forward)
    }

    /// The accesses of `forward` to the named tensors.
    func reads(_ forward: OpPartition, _ names: [String?]) -> [OpPartition.Access] {
        forward.reads.filter { names.contains($0.tensor) }
    }
}
