import CDNNL

// ReLU, tanh and sigmoid on oneDNN over an [n, c, h, w] block in either layout.
//
// forward:  y = relu(x) = max(x, 0), tanh(x), sigmoid(x) = 1 / (1 + e^-x)
// backward: dx = dy * (x > 0) for ReLU (from x); dy * (1 - y^2) for tanh and
//           dy * y * (1 - y) for sigmoid (from y), as Elementwise.swift's kernels.
// A blocked layout's padded channels stay zero (sigmoid(0) would be 1/2; oneDNN knows
// the padding from the descriptor and keeps it zero). x and y may be the same buffer,
// as may dy and dx.

/// One elementwise function over one block shape; primitives built at construction.
public final class DNNLElementwise {
    public enum Kind: Hashable, Sendable { case relu, tanh, sigmoid }

    public let kind: Kind
    public let count: Int
    private let forwardPrimitive: DNNLPrimitive
    private let backwardPrimitive: DNNLPrimitive
    private let x: DNNLMemory, y: DNNLMemory, saved: DNNLMemory, dy: DNNLMemory, dx: DNNLMemory

    public init(_ kind: Kind, n: Int, c: Int, h: Int, w: Int, layout: ActivationLayout) {
        precondition(n >= 1 && c >= 1 && h >= 1 && w >= 1, "elementwise block [\(n), \(c), \(h), \(w)] must not be empty")
        self.kind = kind
        count = layout.count(n: n, c: c, h: h, w: w)
        var md = layout.descriptor(n: n, c: c, h: h, w: w)
        let alg: dnnl_alg_kind_t
        switch kind {
        case .relu: alg = dnnl_eltwise_relu
        case .tanh: alg = dnnl_eltwise_tanh_use_dst_for_bwd
        case .sigmoid: alg = dnnl_eltwise_logistic_use_dst_for_bwd
        }
        var fd = dnnl_eltwise_desc_t(), bd = dnnl_eltwise_desc_t()
        dnnlCheck(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, alg, &md, 0, 0), "eltwise forward descriptor")
        dnnlCheck(dnnl_eltwise_backward_desc_init(&bd, alg, &md, &md, 0, 0), "eltwise backward descriptor")
        do {
            let fpd = try makePrimitiveDesc(&fd, hint: nil, "eltwise forward")
            forwardPrimitive = DNNLPrimitive(fpd)
            backwardPrimitive = DNNLPrimitive(try makePrimitiveDesc(&bd, hint: fpd, "eltwise backward"))
        } catch {
            preconditionFailure("oneDNN eltwise on [\(n), \(c), \(h), \(w)] \(layout): \(error.what) \(error.status.rawValue)")
        }
        x = DNNLMemory(md, scratch: false)
        y = DNNLMemory(md, scratch: false)
        saved = DNNLMemory(md, scratch: false)
        dy = DNNLMemory(md, scratch: false)
        dx = DNNLMemory(md, scratch: false)
        forwardPrimitive.set(DNNL_ARG_SRC, x)
        forwardPrimitive.set(DNNL_ARG_DST, y)
        backwardPrimitive.set(kind == .relu ? DNNL_ARG_SRC : DNNL_ARG_DST, saved)
        backwardPrimitive.set(DNNL_ARG_DIFF_DST, dy)
        backwardPrimitive.set(DNNL_ARG_DIFF_SRC, dx)
    }

    public var implementations: (forward: String, backward: String) {
        (forwardPrimitive.implementation, backwardPrimitive.implementation)
    }

    public func forward(x xb: UnsafeBufferPointer<Float>, y yb: UnsafeMutableBufferPointer<Float>) {
        precondition(xb.count == count && yb.count == count, "\(kind): x \(xb.count), y \(yb.count), expected \(count)")
        x.bind(xb.baseAddress!)
        y.bind(yb.baseAddress!)
        forwardPrimitive.run()
    }

    /// `saved` is the forward's x for ReLU, its y for tanh and sigmoid.
    public func backward(saved sb: UnsafeBufferPointer<Float>, dy dyb: UnsafeBufferPointer<Float>,
                         dx dxb: UnsafeMutableBufferPointer<Float>) {
        precondition(sb.count == count && dyb.count == count && dxb.count == count,
                     "\(kind) backward: \(sb.count), \(dyb.count), \(dxb.count), expected \(count)")
        saved.bind(sb.baseAddress!)
        dy.bind(dyb.baseAddress!)
        dx.bind(dxb.baseAddress!)
        backwardPrimitive.run()
    }
}
