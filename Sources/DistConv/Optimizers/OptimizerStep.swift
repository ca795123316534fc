import Foundation

// One optimizer step on one parameter shard, elementwise over flat buffers:
//   parameter [n] (updated in place), gradient [n],
//   state: one [n] buffer per `settings.stateNames` (updated in place).
// Elementwise, so every rank updates its own shard and no communication is needed.
//
// The rules are torch.optim's single-tensor path (`foreach=False`, `fused=False`, no
// amsgrad, no maximize): `_single_tensor_sgd` in torch/optim/sgd.py and
// `_single_tensor_adam` in torch/optim/adam.py (AdamW is that function with decoupled
// weight decay). As there, the scalars (bias corrections, step size, AdamW's decay
// factor) are computed in Double and the per-element math runs in the element type.

/// Updates one parameter shard in place by one optimizer step.
///
/// With `g` the gradient, `p` the parameter, `lr = learningRate`, `wd = weightDecay`:
/// - sgd: `d = g + wd*p`; `p -= lr*d`.
/// - momentum: `d = g + wd*p`; `buf = d` on step 1, else `buf = mu*buf + d`; `p -= lr*buf`.
/// - adam: `g += wd*p`; `m = b1*m + (1-b1)*g`; `v = b2*v + (1-b2)*g*g`;
///   `p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)`.
/// - adamw: `p *= 1 - lr*wd`, then adam's update without the `wd*p` term.
///
/// The weight-decay term is skipped when `wd == 0`, as torch does, so an infinite
/// parameter does not turn the update into NaN.
///
/// - Parameters:
///   - step: the 1-based number of this step (Adam's bias correction uses it; momentum's
///     first step sets `buf = g`, as torch does when the buffer is still `None`).
///   - learningRate: the rate for this step (from the schedule).
///   - state: one buffer per `settings.stateNames`, same count as parameter, zero before
///     the first step.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func optimizer_step<T: BinaryFloatingPoint>(
    _ settings: OptimizerSettings, step: Int, learningRate: Double,
    parameter: UnsafeMutableBufferPointer<T>, gradient: UnsafeBufferPointer<T>, state: [UnsafeMutableBufferPointer<T>]
) {
    let n = parameter.count
    precondition(step >= 1, "optimizer step \(step); steps count from 1")
    precondition(gradient.count == n, "optimizer step: parameter \(n), gradient \(gradient.count)")
    precondition(
        state.count == settings.kind.statesPerParameter,
        "optimizer step: \(settings.kind) keeps \(settings.kind.statesPerParameter) state buffers, got \(state.count)")
    for (k, buffer) in state.enumerated() {
        precondition(buffer.count == n, "optimizer step: parameter \(n), state[\(k)] \(buffer.count)")
    }

    let lr = T(learningRate)
    let wd = T(settings.weightDecay)
    // adamw decays the parameter instead; the others add wd*p to the gradient.
    let coupled = settings.weightDecay != 0 && settings.kind != .adamw

    switch settings.kind {
    case .sgd:
        for i in 0..<n {
            let d = coupled ? gradient[i] + wd * parameter[i] : gradient[i]
            parameter[i] -= lr * d
        }

    case .momentum:
        let buf = state[0]
        let mu = T(settings.momentum)
        // torch starts the buffer as a copy of the first d_p rather than mu*0 + d_p.
        if step == 1 {
            for i in 0..<n {
                let d = coupled ? gradient[i] + wd * parameter[i] : gradient[i]
                buf[i] = d
                parameter[i] -= lr * d
            }
        } else {
            for i in 0..<n {
                let d = coupled ? gradient[i] + wd * parameter[i] : gradient[i]
                let b = mu * buf[i] + d
                buf[i] = b
                parameter[i] -= lr * b
            }
        }

    case .adam, .adamw:
        let m = state[0], v = state[1]
        let beta1 = settings.beta1, beta2 = settings.beta2
        let biasCorrection1 = 1 - pow(beta1, Double(step))
        let biasCorrection2 = 1 - pow(beta2, Double(step))
        let stepSize = T(learningRate / biasCorrection1)
        let biasCorrection2Sqrt = T(biasCorrection2.squareRoot())
        let eps = T(settings.epsilon)
        let b1 = T(beta1), oneMinusB1 = T(1 - beta1)
        let b2 = T(beta2), oneMinusB2 = T(1 - beta2)
        let decoupled = settings.kind == .adamw && settings.weightDecay != 0
        let decay = T(1 - learningRate * settings.weightDecay)
        for i in 0..<n {
            var p = parameter[i]
            if decoupled { p *= decay }
            let g = coupled ? gradient[i] + wd * p : gradient[i]
            // Recent torch writes this as exp_avg.lerp_(grad, 1 - beta1): the same value
            // up to the last bit.
            let mi = b1 * m[i] + oneMinusB1 * g
            let vi = b2 * v[i] + oneMinusB2 * g * g
            m[i] = mi
            v[i] = vi
            let denom = vi.squareRoot() / biasCorrection2Sqrt + eps
            parameter[i] = p - stepSize * mi / denom
        }
    }
}
