import DistConv
import Foundation
import TestSupport
import Testing

/// The parameter and every state buffer after one step.
struct OptimizerTrace {
    var parameter: [Double]
    var state: [[Double]]
}

/// Runs `optimizer_step` in `T` from `p0`, one step per gradient, with rate `rates[k]` on
/// step k + 1, starting from zero state.
func runOptimizer<T: BinaryFloatingPoint>(
    _: T.Type, _ settings: OptimizerSettings, p0: [Double], gradients: [[Double]], rates: [Double]
) -> [OptimizerTrace] {
    let n = p0.count
    let parameter = UnsafeMutableBufferPointer<T>.allocate(capacity: n)
    let gradient = UnsafeMutableBufferPointer<T>.allocate(capacity: n)
    let state = settings.stateNames.map { _ in UnsafeMutableBufferPointer<T>.allocate(capacity: n) }
    defer {
        parameter.deallocate()
        gradient.deallocate()
        for s in state { s.deallocate() }
    }
    for i in 0..<n { parameter[i] = T(p0[i]) }
    for s in state { s.initialize(repeating: 0) }
    var traces: [OptimizerTrace] = []
    for (k, g) in gradients.enumerated() {
        for i in 0..<n { gradient[i] = T(g[i]) }
        optimizer_step(
            settings, step: k + 1, learningRate: rates[k], parameter: parameter,
            gradient: UnsafeBufferPointer(gradient), state: state)
        traces.append(
            OptimizerTrace(parameter: parameter.map { Double($0) }, state: state.map { $0.map { Double($0) } }))
    }
    return traces
}

/// torch.optim.SGD written out per element (momentum nil: plain SGD, no buffer):
/// d = g + wd*p; buf = d on step 1, else mu*buf + d; p -= lr*buf.
func referenceSGD(
    p0: [Double], gradients: [[Double]], rates: [Double], momentum: Double?, weightDecay wd: Double
) -> [OptimizerTrace] {
    var p = p0
    var buf = [Double](repeating: 0, count: p0.count)
    var traces: [OptimizerTrace] = []
    for (k, g) in gradients.enumerated() {
        let lr = rates[k]
        for i in p.indices {
            let d = g[i] + wd * p[i]
            if let mu = momentum {
                buf[i] = k == 0 ? d : mu * buf[i] + d
                p[i] = p[i] - lr * buf[i]
            } else {
                p[i] = p[i] - lr * d
            }
        }
        traces.append(OptimizerTrace(parameter: p, state: momentum == nil ? [] : [buf]))
    }
    return traces
}

/// torch.optim.Adam (decoupled false) and AdamW (true) written out per element, step t:
/// g += wd*p (Adam) or p *= 1 - lr*wd (AdamW); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
/// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
func referenceAdam(
    p0: [Double], gradients: [[Double]], rates: [Double], beta1 b1: Double, beta2 b2: Double, eps: Double,
    weightDecay wd: Double, decoupled: Bool
) -> [OptimizerTrace] {
    var p = p0
    var m = [Double](repeating: 0, count: p0.count)
    var v = [Double](repeating: 0, count: p0.count)
    var traces: [OptimizerTrace] = []
    for (k, g) in gradients.enumerated() {
        let lr = rates[k], t = Double(k + 1)
        for i in p.indices {
            var gi = g[i]
            if decoupled { p[i] = p[i] * (1 - lr * wd) } else { gi = gi + wd * p[i] }
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            let mHat = m[i] / (1 - pow(b1, t))
            let vHat = v[i] / (1 - pow(b2, t))
            // torch's denominator is sqrt(v)/sqrt(1-b2^t) + eps, equal to sqrt(vHat) + eps.
            p[i] = p[i] - lr * mHat / (vHat.squareRoot() + eps)
        }
        traces.append(OptimizerTrace(parameter: p, state: [m, v]))
    }
    return traces
}

/// Checks the Double run to 1e-12 and the Float run to 1e-6 (relative) against `expected`,
/// parameter and state after every step.
func expectOptimizer(
    _ settings: OptimizerSettings, p0: [Double], gradients: [[Double]], rates: [Double],
    matches expected: [OptimizerTrace], sourceLocation: SourceLocation = #_sourceLocation
) {
    let double = runOptimizer(Double.self, settings, p0: p0, gradients: gradients, rates: rates)
    let float = runOptimizer(Float.self, settings, p0: p0, gradients: gradients, rates: rates)
    for (run, type, rtol) in [(double, "Double", 1e-12), (float, "Float", 1e-6)] {
        for k in expected.indices {
            assertClose(
                run[k].parameter, expected[k].parameter, rtol: rtol, atol: 0,
                "\(settings.kind) \(type) parameter after step \(k + 1)", sourceLocation: sourceLocation)
            #expect(run[k].state.count == expected[k].state.count, sourceLocation: sourceLocation)
            for (j, name) in settings.stateNames.enumerated() where j < run[k].state.count {
                assertClose(
                    run[k].state[j], expected[k].state[j], rtol: rtol, atol: 0,
                    "\(settings.kind) \(type) \(name) after step \(k + 1)", sourceLocation: sourceLocation)
            }
        }
    }
}

@Suite struct OptimizerTests {
    // Exactly representable in Float, so both runs start from the same numbers; each
    // element keeps its gradient's sign so no state value is a near-cancellation.
    static let p0 = [1.0, -2.0, 0.5]
    static let gradients = [[0.5, -1.25, 2.0], [0.25, -0.75, 1.0], [0.75, -2.0, 0.125], [1.5, -0.5, 0.5]]
    // A decaying schedule, so a step that used the wrong rate shows.
    static let rates = [0.1, 0.05, 0.02, 0.01]

    @Test func stateNamesAreTorchs() {
        #expect(OptimizerSettings(kind: .sgd, learningRate: 0.1).stateNames == [])
        #expect(OptimizerSettings(kind: .momentum, learningRate: 0.1).stateNames == ["momentum_buffer"])
        #expect(OptimizerSettings(kind: .adam, learningRate: 0.1).stateNames == ["exp_avg", "exp_avg_sq"])
        #expect(OptimizerSettings(kind: .adamw, learningRate: 0.1).stateNames == ["exp_avg", "exp_avg_sq"])
        for kind in OptimizerKind.allCases { #expect(kind.statesPerParameter == kind.stateNames.count, "\(kind)") }
    }

    @Test func defaultsAreTorchs() {
        let s = OptimizerSettings(kind: .adam, learningRate: 1e-3)
        #expect(s.momentum == 0.9 && s.beta1 == 0.9 && s.beta2 == 0.999 && s.epsilon == 1e-8 && s.weightDecay == 0)
    }

    @Test func settingsRoundTripThroughJSON() throws {
        let s = OptimizerSettings(kind: .adamw, learningRate: 3e-4, beta2: 0.95, weightDecay: 0.01)
        let json = try JSONEncoder().encode(s)
        #expect(String(decoding: json, as: UTF8.self).contains(#""kind":"adamw""#))
        #expect(try JSONDecoder().decode(OptimizerSettings.self, from: json) == s)
    }

    @Test func sgd() {
        let s = OptimizerSettings(kind: .sgd, learningRate: 0.1)
        expectOptimizer(
            s, p0: Self.p0, gradients: Self.gradients, rates: Self.rates,
            matches: referenceSGD(
                p0: Self.p0, gradients: Self.gradients, rates: Self.rates, momentum: nil, weightDecay: 0))
    }

    @Test func sgdWithWeightDecay() {
        let s = OptimizerSettings(kind: .sgd, learningRate: 0.1, weightDecay: 0.1)
        expectOptimizer(
            s, p0: Self.p0, gradients: Self.gradients, rates: Self.rates,
            matches: referenceSGD(
                p0: Self.p0, gradients: Self.gradients, rates: Self.rates, momentum: nil, weightDecay: 0.1))
    }

    @Test func momentum() {
        let s = OptimizerSettings(kind: .momentum, learningRate: 0.1, momentum: 0.9)
        expectOptimizer(
            s, p0: Self.p0, gradients: Self.gradients, rates: Self.rates,
            matches: referenceSGD(
                p0: Self.p0, gradients: Self.gradients, rates: Self.rates, momentum: 0.9, weightDecay: 0))
    }

    @Test func momentumWithWeightDecay() {
        let s = OptimizerSettings(kind: .momentum, learningRate: 0.1, momentum: 0.8, weightDecay: 0.05)
        expectOptimizer(
            s, p0: Self.p0, gradients: Self.gradients, rates: Self.rates,
            matches: referenceSGD(
                p0: Self.p0, gradients: Self.gradients, rates: Self.rates, momentum: 0.8, weightDecay: 0.05))
    }

    @Test func adam() {
        let s = OptimizerSettings(kind: .adam, learningRate: 0.1)
        expectOptimizer(
            s, p0: Self.p0, gradients: Self.gradients, rates: Self.rates,
            matches: referenceAdam(
                p0: Self.p0, gradients: Self.gradients, rates: Self.rates, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                weightDecay: 0, decoupled: false))
    }

    @Test func adamWithWeightDecay() {
        let s = OptimizerSettings(kind: .adam, learningRate: 0.1, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1)
        expectOptimizer(
            s, p0: Self.p0, gradients: Self.gradients, rates: Self.rates,
            matches: referenceAdam(
                p0: Self.p0, gradients: Self.gradients, rates: Self.rates, beta1: 0.8, beta2: 0.99, eps: 1e-6,
                weightDecay: 0.1, decoupled: false))
    }

    @Test func adamW() {
        let s = OptimizerSettings(kind: .adamw, learningRate: 0.1, weightDecay: 0.1)
        expectOptimizer(
            s, p0: Self.p0, gradients: Self.gradients, rates: Self.rates,
            matches: referenceAdam(
                p0: Self.p0, gradients: Self.gradients, rates: Self.rates, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                weightDecay: 0.1, decoupled: true))
    }

    @Test func momentumByHand() {
        // mu 0.9, lr 0.1, the same gradient twice; buf = g on step 1, then 0.9*g + g:
        //   p  1, g  1:   buf 1, 1.9;      p 1 - 0.1 = 0.9,    0.9 - 0.19 = 0.71
        //   p  2, g 0.5:  buf 0.5, 0.95;   p 2 - 0.05 = 1.95,  1.95 - 0.095 = 1.855
        //   p -1, g -2:   buf -2, -3.8;    p -1 + 0.2 = -0.8,  -0.8 + 0.38 = -0.42
        let s = OptimizerSettings(kind: .momentum, learningRate: 0.1, momentum: 0.9)
        let g = [1.0, 0.5, -2.0]
        let expected = [
            OptimizerTrace(parameter: [0.9, 1.95, -0.8], state: [[1, 0.5, -2]]),
            OptimizerTrace(parameter: [0.71, 1.855, -0.42], state: [[1.9, 0.95, -3.8]]),
        ]
        expectOptimizer(s, p0: [1, 2, -1], gradients: [g, g], rates: [0.1, 0.1], matches: expected)
    }

    @Test func adamFirstStepMovesByTheRateByHand() {
        // Step 1: m = 0.1 g, v = 0.001 g^2, so m/(1-b1) = g and sqrt(v/(1-b2)) = |g|: the
        // step is lr * g / (|g| + eps), about lr whatever the gradient's scale.
        //   g  0.5:   0.1 * 0.5 / 0.50000001  = 0.099999998      -> p  1   - that = 0.900000002
        //   g -4:     0.1 * 4 / 4.00000001    = 0.09999999975    -> p -2   + that = -1.90000000025
        //   g  1e-3:  0.1 * 1e-3 / 0.00100001 = 0.0999990000099999 -> p 0.5 - that = 0.4000009999900001
        // AdamW with wd 0.1 first scales p by 1 - 0.1*0.1 = 0.99: 0.99 - 0.099999998 = 0.890000002, ...
        let g = [[0.5, -4, 1e-3]]
        let adam = runOptimizer(Double.self, OptimizerSettings(kind: .adam, learningRate: 0.1), p0: [1, -2, 0.5], gradients: g, rates: [0.1])
        assertClose(adam[0].parameter, [0.900000002, -1.90000000025, 0.4000009999900001], rtol: 1e-12, atol: 0, "adam")
        let adamw = runOptimizer(
            Double.self, OptimizerSettings(kind: .adamw, learningRate: 0.1, weightDecay: 0.1), p0: [1, -2, 0.5],
            gradients: g, rates: [0.1])
        assertClose(
            adamw[0].parameter, [0.890000002, -1.98 + 0.09999999975, 0.495 - 0.0999990000099999], rtol: 1e-12, atol: 0,
            "adamw")
    }

    @Test func emptyShardIsANoOp() {
        // A rank can own no elements of a small parameter.
        let traces = runOptimizer(Float.self, OptimizerSettings(kind: .adam, learningRate: 0.1), p0: [], gradients: [[]], rates: [0.1])
        #expect(traces[0].parameter.isEmpty && traces[0].state == [[], []])
    }
}
