import Foundation
import Geometry

extension Partition {
    /// A picture of the split: one panel per forward tensor (activations, data and
    /// parameters; gradients mirror them), showing two of its dimensions — the ones the
    /// ranks split, else the largest. Each rank's write rect is a filled box in the rank's
    /// colour; its read rect (owned region plus halo) a dashed outline in the same colour.
    /// `highlight` draws that rank's boxes in front, thicker.
    public func svg(highlight: Int? = nil) -> String {
        let shown = tensors.filter { $0.role != .gradient && $0.role != .parameterGradient }
        let panel = 220, margin = 40, labelHeight = 34, columns = 4
        let rows = (shown.count + columns - 1) / columns
        let width = columns * (panel + margin) + margin
        let height = rows * (panel + margin + labelHeight) + margin + 40
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="monospace" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(margin)" y="24" font-size="14">\(escape(model.name)) on \(ranks) ranks: filled = write_rect (owned), dashed = read_rect (owned + halo)\(highlight.map { ", rank \($0) in front" } ?? "")</text>

            """
        for (k, t) in shown.enumerated() {
            let x0 = margin + (k % columns) * (panel + margin)
            let y0 = 40 + margin + (k / columns) * (panel + margin + labelHeight)
            let (dy, dx) = displayedDimensions(t)
            let extentY = dy.map { t.dim[$0] } ?? 1, extentX = dx.map { t.dim[$0] } ?? 1
            // Each axis is scaled to fill the panel: a [256, 3034, 1, 1] batch split stays
            // readable next to a square image.
            let scaleY = Double(panel) / Double(extentY), scaleX = Double(panel) / Double(extentX)
            let w = Double(panel), h = Double(panel)
            func axisName(_ d: Int?) -> String {
                guard let d else { return "-" }
                return t.dim.count == 4 && t.role != .parameter ? ["N", "C", "H", "W"][d] : "dim \(d)"
            }
            let axes = "\(axisName(dy)) down, \(axisName(dx)) across"
            out += "<text x=\"\(x0)\" y=\"\(y0 - 18)\">\(escape(t.name))</text>\n"
            out += "<text x=\"\(x0)\" y=\"\(y0 - 5)\" fill=\"#555\" font-size=\"10\">\(numpyArrayStr(t.dim)) \(axes)</text>\n"
            out += "<rect x=\"\(x0)\" y=\"\(y0)\" width=\(fmt(w)) height=\(fmt(h)) fill=\"#f4f4f4\" stroke=\"black\"/>\n"
            let order = (0..<ranks).filter { $0 != highlight } + (highlight.map { [$0] } ?? [])
            for r in order {
                let color = rankColor(r)
                let strong = r == highlight
                func box(_ rect: Rect) -> String {
                    let oy = dy.map { Double(rect.origin[$0]) } ?? 0, sy = dy.map { Double(rect.size[$0]) } ?? 1
                    let ox = dx.map { Double(rect.origin[$0]) } ?? 0, sx = dx.map { Double(rect.size[$0]) } ?? 1
                    return "x=\(fmt(Double(x0) + ox * scaleX)) y=\(fmt(Double(y0) + oy * scaleY)) width=\(fmt(sx * scaleX)) height=\(fmt(sy * scaleY))"
                }
                if let wr = t.write[r], !wr.isEmpty {
                    out += "<rect \(box(wr)) fill=\"\(color)\" fill-opacity=\"\(strong ? 0.55 : 0.25)\" stroke=\"\(color)\"/>\n"
                }
                if let rr = t.read[r], !rr.isEmpty {
                    out += "<rect \(box(rr)) fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(strong ? 3 : 1.5)\" stroke-dasharray=\"5,3\"><title>rank \(r) read \(rr)</title></rect>\n"
                }
            }
        }
        let legendY = height - 12
        for r in 0..<min(ranks, 16) {
            out += "<rect x=\"\(margin + r * 70)\" y=\"\(legendY - 10)\" width=\"12\" height=\"12\" fill=\"\(rankColor(r))\"/>"
            out += "<text x=\"\(margin + r * 70 + 16)\" y=\"\(legendY)\">rank \(r)</text>\n"
        }
        return out + "</svg>\n"
    }

    /// The two dimensions a panel shows (down, across): those some rank's rects do not
    /// cover whole, last ones first, topped up with the largest remaining dimensions.
    func displayedDimensions(_ t: TensorPartition) -> (Int?, Int?) {
        let whole = Rect(shape: t.dim)
        let rects = (t.read + t.write).compactMap { $0 }
        var split = (0..<t.dim.count).filter { d in rects.contains { $0.range(d) != whole.range(d) } }
        let rest = (0..<t.dim.count).filter { !split.contains($0) && t.dim[$0] > 1 }.sorted { t.dim[$0] > t.dim[$1] }
        split = Array(split.suffix(2))
        for d in rest where split.count < 2 { split.append(d) }
        split.sort()
        switch split.count {
        case 0: return (nil, nil)
        case 1: return (nil, split[0])
        default: return (split[0], split[1])
        }
    }
}

private func rankColor(_ r: Int) -> String {
    let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    return palette[r % palette.count]
}

private func fmt(_ v: Double) -> String { "\"" + String(Double(Int(v * 10)) / 10) + "\"" }

private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
}
