import Foundation

extension MemoryPlan {
    /// A picture of one rank's arena: steps across (forward, then backward after the
    /// dashed line), offsets up, one box per buffer (blue activations, green inputs,
    /// orange results, red gradients; hover for name, bytes, steps), and the live bytes
    /// at each step as a black line, whose peak is the lower bound.
    public func svg(rank r: Int) -> String {
        let p = rankPlans[r]
        let (left, top, width, height) = (90.0, 50.0, 1000.0, 520.0)
        let stepWidth = width / Double(max(steps.count, 1))
        let scale = height / Double(max(p.arenaBytes, 1))
        func x(_ step: Int) -> Double { left + Double(step) * stepWidth }
        func y(_ bytes: Int) -> Double { top + height - Double(bytes) * scale }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + width + 30))" height="\(Int(top + height + 70))" font-family="monospace" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(left))" y="20" font-size="14">\(escape(partition.model.name)) rank \(r) of \(ranks): arena \(grouped(p.arenaBytes)) bytes, lower bound \(grouped(p.lowerBound)) (\(threeDecimals(p.ratio))x, \(p.strategy.rawValue))</text>
            <text x="\(Int(left))" y="36" fill="#555">time (steps) across, offset up; black line = bytes alive</text>
            <rect x="\(f(left))" y="\(f(top))" width="\(f(width))" height="\(f(height))" fill="#fafafa" stroke="black"/>

            """
        for b in p.buffers {
            let color: String
            switch b.shard.role {
            case .gradient: color = "#d62728"
            case .input: color = "#2ca02c"
            case .result: color = "#ff7f0e"
            default: color = "#1f77b4"
            }
            let x0 = x(b.lifetime.lowerBound), x1 = x(b.lifetime.upperBound + 1)
            let y1 = y(b.offset), y0 = y(b.offset + b.bytes)
            out +=
                "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(x1 - x0))\" height=\"\(f(max(y1 - y0, 0.5)))\" fill=\"\(color)\" fill-opacity=\"0.5\" stroke=\"\(color)\" stroke-width=\"0.5\">"
            out +=
                "<title>\(escape(b.tensor)): \(grouped(b.bytes)) bytes at \(grouped(b.offset)), steps \(b.lifetime.lowerBound)-\(b.lifetime.upperBound) (\(escape(steps[b.lifetime.lowerBound].name)) .. \(escape(steps[b.lifetime.upperBound].name)))</title></rect>\n"
        }
        let points = p.liveBytes.enumerated().flatMap { k, live in
            ["\(f(x(k))),\(f(y(live)))", "\(f(x(k + 1))),\(f(y(live)))"]
        }
        out +=
            "<polyline points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\"/>\n"
        if let firstBackward = steps.firstIndex(where: { $0.phase == .backward }) {
            out +=
                "<line x1=\"\(f(x(firstBackward)))\" y1=\"\(f(top))\" x2=\"\(f(x(firstBackward)))\" y2=\"\(f(top + height))\" stroke=\"#555\" stroke-dasharray=\"4,3\"/>\n"
            out += "<text x=\"\(f(x(firstBackward) + 4))\" y=\"\(f(top + 14))\" fill=\"#555\">backward</text>\n"
        }
        for k in stride(from: 0, to: steps.count, by: max(1, steps.count / 8)) {
            out += "<text x=\"\(f(x(k)))\" y=\"\(f(top + height + 16))\">\(k)</text>\n"
        }
        for q in 0...4 {
            let bytes = p.arenaBytes * q / 4
            out += "<text x=\"4\" y=\"\(f(y(bytes) + 4))\">\(grouped(bytes / 1_000_000)) MB</text>\n"
        }
        let legend = [("activation", "#1f77b4"), ("input", "#2ca02c"), ("result", "#ff7f0e"), ("gradient", "#d62728")]
        for (k, (name, color)) in legend.enumerated() {
            let lx = left + Double(k) * 130
            out +=
                "<rect x=\"\(f(lx))\" y=\"\(f(top + height + 34))\" width=\"12\" height=\"12\" fill=\"\(color)\" fill-opacity=\"0.5\"/>"
            out += "<text x=\"\(f(lx + 16))\" y=\"\(f(top + height + 44))\">\(name)</text>\n"
        }
        return out + "</svg>\n"
    }
}

private func f(_ v: Double) -> String { String(Double((v * 10).rounded()) / 10) }

private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
}
