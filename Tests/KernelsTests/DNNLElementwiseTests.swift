import Kernels
import Testing
import TestSupport

// DNNLElementwise against Elementwise.swift's kernels, in every layout, with channel
// counts that leave a blocked layout's last block partly padding.

struct DNNLEltwiseCase: CustomStringConvertible, Sendable {
    var kind: DNNLElementwise.Kind
    var layout: ActivationLayout
    var c: Int
    var description: String { "\(kind) C\(c) in \(layout)" }
}

let dnnlEltwiseCases: [DNNLEltwiseCase] = [DNNLElementwise.Kind.relu, .tanh, .sigmoid].flatMap { k in
    testLayouts.flatMap { l in [5, 16].map { DNNLEltwiseCase(kind: k, layout: l, c: $0) } }
}

@Suite struct DNNLElementwiseTests {
    @Test(arguments: dnnlEltwiseCases)
    func matchesTheElementwiseKernels(_ ec: DNNLEltwiseCase) {
        let n = 2, c = ec.c, h = 5, w = 7
        var rng = SplitMix64(seed: 9)
        let x: [Float] = randomValues(n * c * h * w, &rng).map { $0 * 4 }
        let dy: [Float] = randomValues(x.count, &rng)
        var yRef = [Float](repeating: 0, count: x.count), dxRef = yRef
        x.withUnsafeBufferPointer { xp in
            yRef.withUnsafeMutableBufferPointer { yp in
                switch ec.kind {
                case .relu: relu_forward(x: xp, y: yp)
                case .tanh: tanh_forward(x: xp, y: yp)
                case .sigmoid: sigmoid_forward(x: xp, y: yp)
                }
            }
        }
        let savedRef = ec.kind == .relu ? x : yRef
        savedRef.withUnsafeBufferPointer { sp in
            dy.withUnsafeBufferPointer { dyp in
                dxRef.withUnsafeMutableBufferPointer { dxp in
                    switch ec.kind {
                    case .relu: relu_backward(x: sp, dy: dyp, dx: dxp)
                    case .tanh: tanh_backward(y: sp, dy: dyp, dx: dxp)
                    case .sigmoid: sigmoid_backward(y: sp, dy: dyp, dx: dxp)
                    }
                }
            }
        }
        let op = DNNLElementwise(ec.kind, n: n, c: c, h: h, w: w, layout: ec.layout)
        let xb = toLayout(x, n: n, c: c, h: h, w: w, ec.layout), dyb = toLayout(dy, n: n, c: c, h: h, w: w, ec.layout)
        var yb = [Float](repeating: .nan, count: op.count), dxb = yb
        xb.withUnsafeBufferPointer { xp in yb.withUnsafeMutableBufferPointer { op.forward(x: xp, y: $0) } }
        let saved = ec.kind == .relu ? xb : yb
        saved.withUnsafeBufferPointer { sp in
            dyb.withUnsafeBufferPointer { dyp in dxb.withUnsafeMutableBufferPointer { op.backward(saved: sp, dy: dyp, dx: $0) } }
        }
        let y = fromLayout(yb, n: n, c: c, h: h, w: w, ec.layout), dx = fromLayout(dxb, n: n, c: c, h: h, w: w, ec.layout)
        if ec.kind == .relu {
            #expect(y == yRef && dx == dxRef, "\(ec) [\(op.implementations)]: \(relativeError(y, yRef)), \(relativeError(dx, dxRef))")
        } else {
            // Two implementations of exp: a few float ulps apart.
            #expect(relativeError(y, yRef) <= 1e-6, "\(ec) [\(op.implementations)] forward: \(relativeError(y, yRef))")
            #expect(relativeError(dx, dxRef) <= 1e-6, "\(ec) [\(op.implementations)] backward: \(relativeError(dx, dxRef))")
        }
        #expect(paddedChannelValues(yb, n: n, c: c, h: h, w: w, ec.layout).allSatisfy { $0 == 0 }, "\(ec): y padding")
        #expect(paddedChannelValues(dxb, n: n, c: c, h: h, w: w, ec.layout).allSatisfy { $0 == 0 }, "\(ec): dx padding")
    }
}
