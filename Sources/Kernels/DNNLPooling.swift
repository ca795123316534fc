import CDNNL
import Geometry

// Max and average pooling of one shard on oneDNN, in plain or blocked layouts.
//
// N = batch (local), C = channels; x [N, C, inputRows, inputCols] (the read region),
// y [N, C, outputRows, outputCols] (the write region), both in `layout`.
// Window of output (oy, ox): input rows oy*sh - ph ..< oy*sh - ph + KH (columns alike).
// Padding (only where a window leaves the global tensor) never wins a max; an average
// divides by the window's area KH*KW, which is PyTorch's count_include_pad (a floor-mode
// window never passes the padded input's end) and Chainer's cover_all rule alike.
// A max-pooling window wholly in padding (possible only with cover_all) is not supported
// here; Pooling.swift's kernels handle it.

/// Pooling of one shard shape on oneDNN; primitives built at construction.
public final class DNNLPooling {
    public enum Kind: Hashable, Sendable { case max, average }

    public let geometry: Pool2DGeometry
    public let shard: SpatialShard
    public let batch: Int
    public let kind: Kind
    public let layout: ActivationLayout

    private let forwardPrimitive: DNNLPrimitive
    private let backwardPrimitive: DNNLPrimitive
    private let x: DNNLStaged, y: DNNLStaged, dy: DNNLStaged, dx: DNNLStaged
    private let workspace: (forward: DNNLMemory, backward: DNNLMemory)?
    /// The local input is larger than what the windows read: dx is zeroed first.
    private let cropped: Bool

    /// Throws when oneDNN refuses the shape (e.g. padding as wide as the window on a
    /// cover_all shard).
    public init(_ g: Pool2DGeometry, _ s: SpatialShard, batch n: Int, kind: Kind, layout: ActivationLayout) throws(KernelShapeError) {
        precondition(n >= 1 && s.outputPlane > 0, "\(g.layer): batch \(n) and output \(s.outputRows) x \(s.outputCols) must not be empty")
        precondition(s.outputRows.lowerBound >= 0 && s.outputRows.upperBound <= g.outputHeight
                     && s.outputCols.lowerBound >= 0 && s.outputCols.upperBound <= g.outputWidth,
                     "\(g.layer): output \(s.outputRows) x \(s.outputCols) outside \(g.outputHeight) x \(g.outputWidth)")
        checkCovers(s.inputRows, outputs: s.outputRows, kernel: g.kernelHeight, stride: g.strideH, padding: g.paddingH,
                    dilation: 1, length: g.height, layer: g.layer, axis: "rows")
        checkCovers(s.inputCols, outputs: s.outputCols, kernel: g.kernelWidth, stride: g.strideW, padding: g.paddingW,
                    dilation: 1, length: g.width, layer: g.layer, axis: "columns")
        geometry = g
        shard = s
        batch = n
        self.kind = kind
        self.layout = layout
        guard let rows = WindowSpan(outputs: s.outputRows, kernel: g.kernelHeight, stride: g.strideH, padding: g.paddingH,
                                    dilation: 1, length: g.height),
              let cols = WindowSpan(outputs: s.outputCols, kernel: g.kernelWidth, stride: g.strideW, padding: g.paddingW,
                                    dilation: 1, length: g.width)
        else {
            throw .invalidParameter(layer: g.layer, name: "input rows read", value: 0,
                                    requirement: "at least one: this shard's windows lie wholly in padding")
        }
        let full = layout.descriptor(n: n, c: g.channels, h: s.inputRows.count, w: s.inputCols.count)
        cropped = rows.input != s.inputRows || cols.input != s.inputCols
        let userX = cropped
            ? subDescriptor(full, dims: [n, g.channels, rows.input.count, cols.input.count],
                            offsets: [0, 0, rows.input.lowerBound - s.inputRows.lowerBound, cols.input.lowerBound - s.inputCols.lowerBound])
            : full
        let userY = layout.descriptor(n: n, c: g.channels, h: s.outputRows.count, w: s.outputCols.count)
        var src = layout.descriptor(n: n, c: g.channels, h: rows.input.count, w: cols.input.count), dst = userY
        let strides = [Int64(g.strideH), Int64(g.strideW)], kernel = [Int64(g.kernelHeight), Int64(g.kernelWidth)]
        let dilation: [Int64] = [0, 0]
        let low = [Int64(rows.padLow), Int64(cols.padLow)], high = [Int64(rows.padHigh), Int64(cols.padHigh)]
        let alg = kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding
        var fd = dnnl_pooling_v2_desc_t(), bd = dnnl_pooling_v2_desc_t()
        var status = dnnl_pooling_v2_forward_desc_init(&fd, dnnl_forward_training, alg, &src, &dst, strides, kernel, dilation, low, high)
        if status == dnnl_success {
            status = dnnl_pooling_v2_backward_desc_init(&bd, alg, &src, &dst, strides, kernel, dilation, low, high)
        }
        do throws(DNNLBuildError) {
            guard status == dnnl_success else { throw DNNLBuildError(what: "pooling descriptor", status: status) }
            let fpd = try makePrimitiveDesc(&fd, hint: nil, "pooling forward")
            forwardPrimitive = DNNLPrimitive(fpd)
            backwardPrimitive = DNNLPrimitive(try makePrimitiveDesc(&bd, hint: fpd, "pooling backward"))
        } catch {
            throw .invalidParameter(layer: g.layer, name: "oneDNN pooling status", value: Int(error.status.rawValue),
                                    requirement: "success for this shape (\(error.what))")
        }
        x = DNNLStaged(user: userX, primitive: forwardPrimitive.desc(dnnl_query_src_md), input: true)
        y = DNNLStaged(user: userY, primitive: forwardPrimitive.desc(dnnl_query_dst_md), input: false)
        dy = DNNLStaged(user: userY, primitive: backwardPrimitive.desc(dnnl_query_diff_dst_md), input: true)
        dx = DNNLStaged(user: userX, primitive: backwardPrimitive.desc(dnnl_query_diff_src_md), input: false)
        forwardPrimitive.set(DNNL_ARG_SRC, x.memory)
        forwardPrimitive.set(DNNL_ARG_DST, y.memory)
        backwardPrimitive.set(DNNL_ARG_DIFF_DST, dy.memory)
        backwardPrimitive.set(DNNL_ARG_DIFF_SRC, dx.memory)
        if kind == .max {
            let md = forwardPrimitive.desc(dnnl_query_workspace_md)
            let ws = (DNNLMemory(md, scratch: false), DNNLMemory(md, scratch: false))
            forwardPrimitive.set(DNNL_ARG_WORKSPACE, ws.0)
            backwardPrimitive.set(DNNL_ARG_WORKSPACE, ws.1)
            workspace = ws
        } else {
            workspace = nil
        }
    }

    public var inputCount: Int { layout.count(n: batch, c: geometry.channels, h: shard.inputRows.count, w: shard.inputCols.count) }
    public var outputCount: Int { layout.count(n: batch, c: geometry.channels, h: shard.outputRows.count, w: shard.outputCols.count) }
    /// Bytes of the workspace max pooling's forward writes and its backward reads (the
    /// winners' positions, in oneDNN's format); 0 for average pooling.
    public var workspaceBytes: Int { workspace?.forward.bytes ?? 0 }
    public var implementations: (forward: String, backward: String) {
        (forwardPrimitive.implementation, backwardPrimitive.implementation)
    }

    /// Writes y and, for max pooling, the workspace.
    public func forward(x xb: UnsafeBufferPointer<Float>, y yb: UnsafeMutableBufferPointer<Float>,
                        workspace ws: UnsafeMutableRawBufferPointer? = nil) {
        check(x: xb.count, y: yb.count, workspace: ws?.count)
        x.bindInput(xb.baseAddress!)
        y.bindOutput(yb.baseAddress!)
        if let workspace, let ws { workspace.forward.bind(ws.baseAddress!) }
        forwardPrimitive.run()
        y.finishOutput()
    }

    /// Overwrites dx (the local input, halo included) with dy routed back through the
    /// windows; max pooling reads the workspace its forward wrote.
    public func backward(dy dyb: UnsafeBufferPointer<Float>, workspace ws: UnsafeRawBufferPointer? = nil,
                         dx dxb: UnsafeMutableBufferPointer<Float>) {
        check(x: dxb.count, y: dyb.count, workspace: ws?.count)
        if cropped {
            fillZero(dxb.baseAddress!, layout: layout, n: batch, c: geometry.channels, h: shard.inputRows.count,
                     w: shard.inputCols.count, region: ConvRegion(rows: 0..<shard.inputRows.count, cols: 0..<shard.inputCols.count))
        }
        dy.bindInput(dyb.baseAddress!)
        dx.bindOutput(dxb.baseAddress!)
        if let workspace, let ws { workspace.backward.bind(ws.baseAddress!) }
        backwardPrimitive.run()
        dx.finishOutput()
    }

    private func check(x: Int, y: Int, workspace: Int?) {
        precondition(x == inputCount && y == outputCount,
                     "\(geometry.layer): buffers \(x) and \(y), expected \(inputCount) and \(outputCount) in \(layout)")
        precondition((workspace ?? 0) == workspaceBytes,
                     "\(geometry.layer): workspace of \(workspace ?? 0) bytes, expected \(workspaceBytes)")
    }
}
