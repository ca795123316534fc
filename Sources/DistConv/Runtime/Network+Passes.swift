import Comm
import Geometry
import Kernels

/// Sums over the ranks of one pass: the loss and, from evaluation ops, the metrics.
public struct PassTotals: Sendable, Equatable {
    /// The batch's mean loss (the sum of the ranks' shares).
    public var loss: Double = 0
    public var correct: Double = 0
    public var rows: Double = 0
    /// Summed per-sample loss over `rows` (evaluation).
    public var summedLoss: Double = 0
    /// The loss or a gradient held a NaN or an infinity, and the update was not made.
    public var nonFinite = false
    /// Ranks whose sharded parameters' gradients hold a NaN or an infinity (summed with
    /// the totals, so that the finite check needs no collective of its own).
    var ranksWithNonFiniteShards: Double = 0
}

extension Network {
    /// Loads this rank's part of a batch: every input rect the data set feeds, and the
    /// label rows of losses and evaluations. Only those pixels are read.
    public func load(samples: [Int], from dataset: any ImageDataset) {
        let t0 = StepTimer.now()
        for (k, s) in plan.steps.enumerated() {
            if s.loadsData {
                let region = s.regions.input
                let into = io[k].x
                if T.self == Float.self {
                    into.withMemoryRebound(to: Float.self) { dataset.loadImages(samples: samples, region: region, into: $0) }
                } else {
                    into.withMemoryRebound(to: Double.self) { dataset.loadImages(samples: samples, region: region, into: $0) }
                }
            }
            if let rows = s.regions.labels {
                for (j, row) in rows.enumerated() { io[k].labels[j] = Int32(dataset.label(samples[row])) }
            }
        }
        timer.add("data", since: t0)
    }

    /// True when the model has an evaluation op; otherwise its losses give the metrics.
    var hasEvaluation: Bool { plan.steps.contains { $0.layer is EvaluateLayer } }

    /// Forward over every op; returns this rank's shares (summed over ranks by `totals`).
    func forwardPass(_ context: StepContext) -> PassTotals {
        var local = PassTotals()
        for (k, s) in plan.steps.enumerated() {
            if let r = inputReorders[k], let spec = s.inputReorder {
                let t0 = StepTimer.now()
                r(floats(UnsafeBufferPointer(buffers[spec.from])), floats(buffers[spec.into]))
                timer.add("layout reorder", since: t0)
            }
            var c = context
            c.reducer = reducers[k]
            if let e = inputExchanges[k], let ex = s.inputExchange {
                Activity.set(ex.mode == .copy ? .forwardExchange : .partialSum, op: k)
                if overlap, let layer = s.layer as? any OverlappingLayer, let strips = overlapStrips[k] {
                    forwardOverlapped(layer, k, e, ex, strips)
                    continue
                }
                let t0 = StepTimer.now()
                run(e, ex)
                timer.add(ex.mode == .copy ? "halo/layout exchange" : "partial-sum reduction", since: t0)
            }
            Activity.set(.forward, op: k)
            let t0 = StepTimer.now()
            let share = s.layer.forward(io[k], c)
            afterOp?(k, false)
            if s.isPrimary {
                local.loss += share
                var m: BatchMetrics?
                if let evaluate = s.layer as? EvaluateLayer {
                    m = evaluate.metrics(io[k], validRows: context.validRows)
                } else if let loss = s.layer as? LossLayer, !hasEvaluation {
                    m = loss.metrics(io[k], validRows: context.validRows)
                }
                if let m {
                    local.correct += Double(m.correct)
                    local.rows += Double(m.rows)
                    local.summedLoss += m.summedLoss
                }
            }
            timer.add("\(s.op.kind.typeName) forward", since: t0)
        }
        return local
    }

    /// Backward over the ops in reverse, with the reverse exchange after each op that read
    /// its input elsewhere than where it was written; replicated parameters' gradient
    /// buckets are started (non-blocking) as soon as backward is done with them.
    func backwardPass(_ context: StepContext) {
        var next = 0
        for (k, s) in plan.steps.enumerated().reversed() where s.hasBackward {
            if let r = outputRecoveries[k], let e = s.outputRecovery {
                Activity.set(.outputRecovery, op: k)
                let t1 = StepTimer.now()
                r.execute(from: UnsafeBufferPointer(buffers[e.from]), into: buffers[e.into])
                timer.add("output recovery", since: t1)
            }
            Activity.set(.backward, op: k)
            var c = context
            c.reducer = reducers[k]
            if overlap, let e = gradientExchanges[k], let ex = s.gradientExchange, ex.mode == .accumulate,
               let layer = s.layer as? any OverlappingBackward
            {
                backwardOverlapped(layer, k, e, ex)
            } else if let e = gradientExchanges[k], let ex = s.gradientExchange {
                let t0 = StepTimer.now()
                s.layer.backward(backwardIO[k], c)
                afterOp?(k, true)
                timer.add("\(s.op.kind.typeName) backward", since: t0)
                Activity.set(.backwardExchange, op: k)
                let t1 = StepTimer.now()
                run(e, ex)
                timer.add(ex.mode == .accumulate ? "reverse halo/layout exchange" : "partial-sum gradient copy", since: t1)
            } else {
                let t0 = StepTimer.now()
                s.layer.backward(backwardIO[k], c)
                afterOp?(k, true)
                timer.add("\(s.op.kind.typeName) backward", since: t0)
            }
            if let r = gradientReorders[k], let spec = s.gradientReorder {
                let t1 = StepTimer.now()
                r(floats(UnsafeBufferPointer(buffers[spec.from])), floats(buffers[spec.into]))
                timer.add("layout reorder", since: t1)
            }
            while next < buckets.count && buckets[next].readyAfterOp >= s.index {
                startBucket(next)
                next += 1
            }
        }
        while next < buckets.count {
            startBucket(next)
            next += 1
        }
    }

    /// Forward of a layer whose input comes by a halo exchange, beside it: start the
    /// exchange (this rank's own block is copied in at once), compute what needs no
    /// halo, finish, compute the strips that read it. The same bits as without overlap
    /// (see `OverlappingLayer`).
    func forwardOverlapped(_ layer: any OverlappingLayer, _ k: Int, _ e: Redistribution, _ ex: ExecutionPlan.Exchange,
                           _ strips: [(rows: Range<Int>, cols: Range<Int>)]) {
        let t0 = StepTimer.now()
        let pending = begin(e, ex)
        let t1 = StepTimer.now()
        timer.add("halo/layout exchange", since: t0)
        layer.forwardBeforeHalo(io[k])
        let t2 = StepTimer.now()
        timer.add("\(plan.steps[k].op.kind.typeName) forward", since: t1)
        Activity.set(.forwardExchange, op: k)
        pending.finish()
        let t3 = StepTimer.now()
        timer.add("halo/layout exchange", since: t2)
        Activity.set(.forward, op: k)
        for strip in strips { layer.forwardStrip(io[k], rows: strip.rows, cols: strip.cols) }
        afterOp?(k, false)
        timer.add("\(plan.steps[k].op.kind.typeName) forward", since: t3)
    }

    /// Backward of a layer whose input gradient goes back by a reverse halo, beside it:
    /// the input gradient, start the exchange, the parameter gradients, finish.
    func backwardOverlapped(_ layer: any OverlappingBackward, _ k: Int, _ e: Redistribution,
                            _ ex: ExecutionPlan.Exchange) {
        let name = "\(plan.steps[k].op.kind.typeName) backward"
        let t0 = StepTimer.now()
        layer.backwardInput(backwardIO[k])
        let t1 = StepTimer.now()
        timer.add(name, since: t0)
        let pending = begin(e, ex)
        let t2 = StepTimer.now()
        timer.add("reverse halo/layout exchange", since: t1)
        layer.backwardParameters(backwardIO[k])
        afterOp?(k, true)
        let t3 = StepTimer.now()
        timer.add(name, since: t2)
        Activity.set(.backwardExchange, op: k)
        pending.finish()
        timer.add("reverse halo/layout exchange", since: t3)
    }

    /// Runs exchange `ex` of the plan: in place when its source and target are one buffer
    /// (`ExecutionPlan.Alias`), otherwise from one into the other (zeroed first if so
    /// planned).
    func run(_ e: Redistribution, _ ex: ExecutionPlan.Exchange) {
        begin(e, ex).finish()
    }

    /// Starts exchange `ex` (see `run`); the caller finishes it.
    func begin(_ e: Redistribution, _ ex: ExecutionPlan.Exchange) -> PendingRedistribution<T> {
        if ex.from == ex.into { return e.start(buffers[ex.into]) }
        if ex.zeroFirst { buffers[ex.into].update(repeating: 0) }
        return e.start(from: UnsafeBufferPointer(buffers[ex.from]), into: buffers[ex.into])
    }

    /// Starts bucket `b`'s allreduce. At most `Network.bucketsInFlight` run at once: MPI
    /// keeps a temporary the size of each one in flight, so unbounded they would cost a
    /// second copy of every gradient on some ranks.
    func startBucket(_ b: Int) {
        let bucket = buckets[b]
        let slice = UnsafeMutableBufferPointer(rebasing: gradientSlab[bucket.offset..<(bucket.offset + bucket.count)])
        do {
            if requests.count >= Self.bucketsInFlight {
                Activity.set(.gradientAllreduce)
                try communicator.waitAll(requests)
            }
            try communicator.iallreduce(slice, requests: requests)
        } catch {
            communicator.abort(error)
        }
    }

    /// Combines batch-norm statistics over the ranks that hold the same channels, in rank
    /// order (an allgather, then `BatchNormMoments.merged` rank by rank), so every rank
    /// gets bit-identical statistics and a run is reproducible. Replicas contribute none.
    func makeReducer(_ k: Int) -> BatchNormReducer {
        let s = plan.steps[k]
        guard case .batchNorm = s.op.kind else { return .local }
        let comm = communicator
        let peers = (0..<plan.ranks).map { q in
            s.op.isPrimary(rank: q) && forwardResult(s.op, rank: q).range(1) == s.regions.output.range(1)
        }
        let primary = s.isPrimary
        return BatchNormReducer(
            moments: { moments in
                let c = moments.count
                var mine = [Double](repeating: 0, count: 3 * c)
                if primary {
                    for ch in 0..<c { mine[3 * ch] = moments[ch].count; mine[3 * ch + 1] = moments[ch].mean; mine[3 * ch + 2] = moments[ch].m2 }
                }
                Activity.set(.batchNormStatistics, op: k)
                let all = Self.gather(comm, mine)
                for ch in 0..<c {
                    var merged = BatchNormMoments()
                    for q in 0..<peers.count where peers[q] {
                        let m = BatchNormMoments(count: all[q][3 * ch], mean: all[q][3 * ch + 1], m2: all[q][3 * ch + 2])
                        merged = BatchNormMoments.merged(merged, m)
                    }
                    moments[ch] = merged
                }
            },
            sum: { sums in
                let mine = primary ? Array(sums) : [Double](repeating: 0, count: sums.count)
                Activity.set(.batchNormStatistics, op: k)
                let all = Self.gather(comm, mine)
                for i in sums.indices {
                    var total = 0.0
                    for q in 0..<peers.count where peers[q] { total += all[q][i] }
                    sums[i] = total
                }
            })
    }

    func forwardResult(_ op: Op, rank q: Int) -> Rect {
        guard let o = partition.ops.first(where: { $0.name == op.name && $0.phase == .forward }) else {
            preconditionFailure("no forward op \(op.name)")
        }
        return o.distResult[q]
    }

    static func gather(_ comm: Communicator, _ values: [Double]) -> [[Double]] {
        do {
            let flat = try comm.allgather(values)
            return (0..<comm.size).map { Array(flat[($0 * values.count)..<(($0 + 1) * values.count)]) }
        } catch {
            comm.abort(error)
        }
    }
}
