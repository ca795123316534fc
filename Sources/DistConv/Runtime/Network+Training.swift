import Comm
import Geometry
import Kernels

extension Network {
    /// One training step on the loaded batch: forward, loss, backward with the gradient
    /// buckets in flight, the wait for them, the sharded parameters' gradient sums, and
    /// the optimizer's update of this rank's shards. Returns the batch's totals over all
    /// ranks (its mean loss, and metrics where the model evaluates).
    public func trainStep(step: Int, globalBatch: Int, optimizer: OptimizerSettings, learningRate: Double)
        -> PassTotals
    {
        var result = computeGradients(globalBatch: globalBatch, step: step)
        let checked = StepTimer.now()
        Activity.set(.finiteCheck)
        result.nonFinite = !gradientsAreFinite(result)
        timer.add("check", since: checked)
        if result.nonFinite { return result }
        let t0 = StepTimer.now()
        for p in parameters {
            optimizer_step(optimizer, step: step + 1, learningRate: learningRate, parameter: p.value,
                           gradient: UnsafeBufferPointer(p.gradient), state: p.state)
        }
        timer.add("optimizer", since: t0)
        return result
    }

    /// Forward only, in evaluation mode (running statistics, no dropout); rows at
    /// `validRows` and after are padding and left out of the metrics.
    public func evaluate(globalBatch: Int, validRows: Int) -> PassTotals {
        let context = StepContext(training: false, step: 0, seed: seed, globalBatch: globalBatch,
                                  validRows: validRows, reducer: .local)
        return totals(forwardPass(context))
    }

    /// Forward and backward without an update: the gradients of the loaded batch's loss
    /// (summed over ranks) stay in `parameters[k].gradient`: a training step without its
    /// update, and what the gradient checks read.
    public func computeGradients(globalBatch: Int, step: Int = 0) -> PassTotals {
        let context = StepContext(training: true, step: step, seed: seed, globalBatch: globalBatch,
                                  validRows: globalBatch, reducer: .local)
        zeroGradients()
        var local = forwardPass(context)
        backwardPass(context)
        finishGradients()
        local.ranksWithNonFiniteShards = shardedGradientsAreFinite() ? 0 : 1
        return totals(local)
    }

    /// The loss of the loaded batch, forward only, in training mode.
    public func loss(globalBatch: Int, step: Int = 0) -> Double {
        let context = StepContext(training: true, step: step, seed: seed, globalBatch: globalBatch,
                                  validRows: globalBatch, reducer: .local)
        return totals(forwardPass(context)).loss
    }

    func zeroGradients() {
        gradientSlab.update(repeating: 0)
        for p in parameters where !p.spec.replicated { p.gradient.update(repeating: 0) }
        for (k, s) in plan.steps.enumerated() where !s.isPrimary {
            for g in io[k].gradients { g.update(repeating: 0) }
        }
    }

    /// Waits for the buckets, then sums the gradients of parameters held in parts.
    func finishGradients() {
        let t0 = StepTimer.now()
        Activity.set(.gradientAllreduce)
        do {
            try communicator.waitAll(requests)
        } catch {
            communicator.abort(error)
        }
        for (k, r) in shardedReductions.enumerated() {
            r?.execute(parameters[k].gradient)
        }
        timer.add("allreduce wait", since: t0)
    }

    /// Sums this rank's shares with every other rank's.
    func totals(_ local: PassTotals) -> PassTotals {
        var v = [local.loss, local.correct, local.rows, local.summedLoss, local.ranksWithNonFiniteShards]
        Activity.set(.totals)
        do {
            try communicator.allreduce(&v)
        } catch {
            communicator.abort(error)
        }
        var t = PassTotals(loss: v[0], correct: v[1], rows: v[2], summedLoss: v[3])
        t.ranksWithNonFiniteShards = v[4]
        return t
    }
}
