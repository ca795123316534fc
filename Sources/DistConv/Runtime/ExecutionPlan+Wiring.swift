import Comm
import Geometry

extension PlanBuilder {
    /// The write rects of `tensor` on every rank (its producer's blocks).
    func writeRects(_ tensor: String) -> [Rect] {
        partition.tensor(tensor).write.map { $0 ?? Rect.empty(dimensions: partition.tensor(tensor).dim.count) }
    }

    /// True when op `i` reads `tensor` exactly where every rank writes it.
    func readsInPlace(_ tensor: String, _ i: Int) -> Bool {
        let t = partition.tensor(tensor)
        guard !t.isPartialSum, let input = forward[i].distInput else { return false }
        let writes = writeRects(tensor)
        return (0..<partition.ranks).allSatisfy { writes[$0] == input[$0] }
    }

    mutating func addForward(_ i: Int, _ op: Op) throws {
        let fwd = forward[i]
        guard let input = op.input, let inRects = fwd.distInput else {
            preconditionFailure("op \(op.name) without an input")
        }
        func access(_ name: String, _ list: [OpPartition.Access]) -> [Rect] { rects(list.first { $0.tensor == name }) }
        let outRects = access(op.outputs[0], fwd.writes)
        let extraRects = op.outputs.count > 1 ? access(op.outputs[1], fwd.writes) : nil
        let (takes, gives) = layouts(i, op)
        let regions = ShardRegions(
            input: inRects[rank], output: outRects[rank], extraOutput: extraRects?[rank],
            parameters: op.parameters.map { access($0, fwd.reads)[rank] },
            labels: op.labels.map { access($0, fwd.reads)[rank].range(0) },
            inputLayout: takes, outputLayout: gives, onednn: kernels != .reference)
        let layer: any ShardLayer
        if case .evaluate = op.kind {
            var loss = LossKind.softmaxCrossEntropy
            if let p = producer[input], case .loss(let k) = model.ops[p.op].kind { loss = k }
            layer = EvaluateLayer(loss: loss, batch: regions.input.size[0], classes: regions.input.size[1],
                                  firstRow: regions.input.origin[0])
        } else {
            layer = try regions.layer(for: op, source: model.source)
        }
        let hasBackward = backwardOps.contains(op.name)
        let b = backwardStep(i)

        // The input: loaded, read in place, or brought by a redistribution; reordered
        // first (over this rank's block) when the op takes another layout.
        var x: Int?
        var loadsData = false
        var inputExchange: ExecutionPlan.Exchange?
        var inputReorder: ExecutionPlan.Reorder?
        if let (p, source) = producer[input], let source {
            use(source, at: i)
            var from = source
            let stored = storedLayout[input] ?? .nchw
            if takes != stored {
                let block = writeRects(input)[rank]
                from = add("\(input)@\(op.name).\(takes)", .input, block, at: i, layout: takes)
                inputReorder = .init(tensor: input, rect: block, from: source, into: from, fromLayout: stored,
                                     intoLayout: takes)
            }
            if readsInPlace(input, i) {
                x = from
            } else {
                let t = partition.tensor(input)
                x = add("\(input)@\(op.name)", .input, inRects[rank], at: i, layout: takes)
                let writes = writeRects(input)
                inputExchange = exchange(
                    tensor: input, shape: t.dim,
                    writes: t.isPartialSum ? primaryOnly(writes, of: model.ops[p]) : writes.map { $0 },
                    reads: inRects, mode: t.isPartialSum ? .accumulate : .copy, from: from, into: x ?? 0,
                    zeroFirst: t.isPartialSum, layout: takes)
                if !t.isPartialSum, inputReorder == nil, model.ops.filter({ $0.input == input }).count == 1,
                   let e = inputExchange, share(from, into: e.into, strided: steps[p - 1].layer.takesStridedOutput)
                {
                    inputExchange = inPlace(e)
                }
            }
        } else {
            x = add("\(input)@\(op.name)", .input, inRects[rank], at: 0)
            use(x, at: i)
            loadsData = true
        }

        var y: Int?
        var extra: Int?
        switch op.kind {
        case .loss:
            if let extraRects {
                extra = add(op.outputs[1], .activation, extraRects[rank], at: i)
                producer[op.outputs[1]] = (i, extra)
            }
        case .evaluate:
            break
        default:
            y = add(op.outputs[0], .activation, outRects[rank], at: i, layout: gives)
            producer[op.outputs[0]] = (i, y)
            storedLayout[op.outputs[0]] = gives
        }
        let forwardWorkspace = layer.forwardWorkspace > 0
            ? add("\(op.name).workspace", .workspace, Rect(shape: [layer.forwardWorkspace]), at: i) : nil
        if hasBackward {
            if layer.backwardReadsInput { use(x, at: b) }
            // Where backward reads the output from is settled once its consumers are known.
            if layer.backwardReadsOutput { outputReaders.append(i) }
        }

        var parameterIndices: [Int] = []
        for name in op.parameters {
            if let k = parameters.firstIndex(where: { $0.name == name }) {
                parameterIndices.append(k)
                continue
            }
            let t = partition.tensor(name)
            let all = t.read.map { $0 ?? Rect.empty(dimensions: t.dim.count) }
            let whole = Rect(shape: t.dim)
            parameters.append(.init(
                name: name, shape: t.dim, rect: all[rank], replicated: all.allSatisfy { $0 == whole }, rects: all,
                contributes: (0..<partition.ranks).map { op.isPrimary(rank: $0) }, op: i))
            parameterIndices.append(parameters.count - 1)
        }

        steps.append(.init(
            op: op, index: i, layer: layer, regions: regions, x: x, y: y, extra: extra, dx: nil, dy: nil,
            forwardWorkspace: forwardWorkspace, backwardWorkspace: nil, inputExchange: inputExchange,
            gradientExchange: nil, inputReorder: inputReorder, gradientReorder: nil, outputRecovery: nil, loadsData: loadsData, hasBackward: hasBackward,
            isPrimary: op.isPrimary(rank: rank), parameters: parameterIndices))
    }

    /// Op `i`'s backward reads its output. When a single consumer copies that output whole
    /// into its own input buffer (with a halo: the input contains every rank's block),
    /// keeping both to the end of backward would hold the activation twice; the output's
    /// buffer dies after the copy instead, and backward copies it back out of the
    /// consumer's buffer (no messages), which lives a few steps longer.
    mutating func settleOutputRead(_ i: Int) {
        var s = steps[i - 1]
        let b = backwardStep(i)
        let output = s.op.outputs[0]
        let consumers = steps.filter { $0.op.input == output }
        if let y = s.y, buffers[y].alias != nil {
            // The output is a view of the consumer's input: read there, in place.
            use(y, at: b)
        } else if s.y != nil, consumers.count == 1, let c = consumers.first, let e = c.inputExchange, e.mode == .copy,
           c.inputReorder == nil, let inRects = forward[c.index].distInput,
           zip(writeRects(output), inRects).allSatisfy({ $1.contains($0) })
        {
            let layout = storedLayout[output] ?? .nchw
            let temporary = add("\(output)@\(s.op.name).backward", .input, writeRects(output)[rank], at: b,
                                layout: layout)
            use(c.x, at: b)
            let writes = inRects.map { Optional($0) }
            s.outputRecovery = exchange(tensor: output, shape: partition.tensor(output).dim, writes: writes,
                                        reads: writeRects(output), mode: .copy, from: c.x ?? 0, into: temporary,
                                        zeroFirst: false, layout: layout)
        } else {
            use(s.y ?? s.extra, at: b)
        }
        steps[i - 1] = s
    }

    /// The gradient buffer of `tensor` over its producer's write rect, made by its first
    /// writer (the last of its consumers).
    mutating func gradientBuffer(_ tensor: String, at step: Int) -> (buffer: Int, first: Bool) {
        if let g = gradient[tensor] {
            use(g, at: step)
            return (g, false)
        }
        let g = add("\(tensor).grad", .gradient, writeRects(tensor)[rank], at: step,
                    layout: storedLayout[tensor] ?? .nchw)
        gradient[tensor] = g
        return (g, true)
    }

    mutating func addBackward(_ i: Int) {
        var s = steps[i - 1]
        let op = s.op
        let b = backwardStep(i)
        if !op.isLoss, hasGradient(op.outputs[0]) {
            guard let g = gradient[op.outputs[0]] else {
                preconditionFailure("backward of \(op.name): no consumer wrote the gradient of \(op.outputs[0])")
            }
            use(g, at: b)
            s.dy = g
        }
        if let input = op.input, !s.loadsData, hasGradient(input), let inRects = forward[i].distInput {
            let consumers = model.ops.filter { $0.input == input && backwardOps.contains($0.name) }
            let takes = s.regions.inputLayout
            if let r = s.inputReorder {
                // The gradient comes back in the op's layout and is reordered into the
                // producer's (its only writer: `canStore` allows a single reader).
                precondition(consumers.count == 1, "\(input) is reordered for \(op.name) but read by \(consumers.count) ops")
                let t = partition.tensor(input)
                let g = gradientBuffer(input, at: b).buffer
                var from: Int
                if s.inputExchange == nil {
                    from = add("\(input).grad@\(op.name).\(takes)", .inputGradient, r.rect, at: b, layout: takes)
                    s.dx = from
                } else {
                    let dx = add("\(input).grad@\(op.name)", .inputGradient, inRects[rank], at: b, layout: takes)
                    from = add("\(input).grad.\(takes)", .gradient, r.rect, at: b, layout: takes)
                    s.dx = dx
                    s.gradientExchange = exchange(
                        tensor: "\(input).grad", shape: t.dim, writes: primaryOnly(inRects, of: op),
                        reads: writeRects(input), mode: .accumulate, from: dx, into: from, zeroFirst: true,
                        layout: takes)
                }
                s.gradientReorder = .init(tensor: "\(input).grad", rect: r.rect, from: from, into: g,
                                          fromLayout: takes, intoLayout: r.fromLayout)
            } else if s.inputExchange == nil && consumers.count == 1 {
                s.dx = gradientBuffer(input, at: b).buffer
            } else {
                let t = partition.tensor(input)
                precondition(!t.isPartialSum || consumers.count == 1,
                             "partial sums \(input) read by \(consumers.count) differentiable ops")
                let dx = add("\(input).grad@\(op.name)", .inputGradient, inRects[rank], at: b, layout: takes)
                let (g, first) = gradientBuffer(input, at: b)
                s.dx = dx
                let e = exchange(
                    tensor: "\(input).grad", shape: t.dim,
                    writes: t.isPartialSum ? inRects.map { $0 } : primaryOnly(inRects, of: op),
                    reads: writeRects(input), mode: t.isPartialSum ? .copy : .accumulate, from: dx, into: g,
                    zeroFirst: !t.isPartialSum && first, layout: takes)
                // The gradient over the producer's block as a view of this op's input
                // gradient: the reverse halo adds the peers' parts in place. A replica's
                // own part must not count (it adds only the primaries'), so it keeps its
                // own buffer.
                let strided = producer[input].map { steps[$0.op - 1].layer.takesStridedOutput } ?? false
                if !t.isPartialSum, first, consumers.count == 1, op.isPrimary(rank: rank),
                   share(g, into: dx, strided: strided)
                {
                    s.gradientExchange = inPlaceGradient(e)
                } else {
                    s.gradientExchange = e
                }
            }
        }
        if s.loadsData && inputGradient, let input = op.input, let inRects = forward[i].distInput {
            s.dx = add("\(input).grad@\(op.name)", .inputGradient, inRects[rank], at: b)
        }
        if s.layer.backwardWorkspace > 0 {
            s.backwardWorkspace = add("\(op.name).backward-workspace", .workspace, Rect(shape: [s.layer.backwardWorkspace]), at: b)
        }
        steps[i - 1] = s
    }
}
