import Foundation

extension ProjectionTable {
    /// Two log-log plots side by side: predicted step time and peak memory per rank
    /// against ranks, one line per policy (auto dashed), with the memory limit as a grey
    /// line when there is one.
    public var svg: String {
        let (panelWidth, panelHeight, left, top, gap) = (460.0, 340.0, 80.0, 70.0, 110.0)
        let colors = ["batch": "#1f77b4", "spatial": "#2ca02c", "hybrid": "#ff7f0e", "auto": "#d62728"]
        let ranks = rows.map { Double($0.ranks) }
        let xs = (ranks.min() ?? 1, max(ranks.max() ?? 2, (ranks.min() ?? 1) * 2))
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + 2 * panelWidth + gap + 40))" height="\(Int(top + panelHeight + 90))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(left))" y="24" font-size="15">\(escape(model)): predicted training step against ranks</text>
            <text x="\(Int(left))" y="44" fill="#555">\(escape(profile)); \(escape(links))</text>

            """
        func panel(_ x0: Double, _ title: String, _ value: (StepEstimate) -> Double, _ unit: (Double) -> String,
                   limit: Double?) {
            var values = rows.flatMap { $0.estimates.values.map(value) }.filter { $0 > 0 }
            if let limit { values.append(limit) }
            let lo = values.min() ?? 1, hi = max(values.max() ?? 10, lo * 10)
            let ly = (floor(log10(lo)), ceil(log10(hi)))
            let lx = (log2(xs.0), log2(xs.1))
            func px(_ r: Double) -> Double { x0 + (log2(r) - lx.0) / (lx.1 - lx.0) * panelWidth }
            func py(_ v: Double) -> Double { top + panelHeight - (log10(v) - ly.0) / max(ly.1 - ly.0, 1) * panelHeight }
            out += "<rect x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(panelWidth))\" height=\"\(f(panelHeight))\" fill=\"#fafafa\" stroke=\"black\"/>\n"
            out += "<text x=\"\(f(x0))\" y=\"\(f(top - 8))\">\(escape(title))</text>\n"
            for e in stride(from: ly.0, through: ly.1, by: 1) {
                let y = py(pow(10, e))
                out += "<line x1=\"\(f(x0))\" y1=\"\(f(y))\" x2=\"\(f(x0 + panelWidth))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
                out += "<text x=\"\(f(x0 - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(escape(unit(pow(10, e))))</text>\n"
            }
            for r in rows.map(\.ranks) {
                let x = px(Double(r))
                out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + panelHeight))\" stroke=\"#eee\"/>"
                out += "<text x=\"\(f(x))\" y=\"\(f(top + panelHeight + 16))\" text-anchor=\"middle\">\(r)</text>\n"
            }
            out += "<text x=\"\(f(x0 + panelWidth / 2))\" y=\"\(f(top + panelHeight + 36))\" text-anchor=\"middle\">ranks (log scale)</text>\n"
            if let limit {
                let y = py(limit)
                out += "<line x1=\"\(f(x0))\" y1=\"\(f(y))\" x2=\"\(f(x0 + panelWidth))\" y2=\"\(f(y))\" stroke=\"#888\" stroke-dasharray=\"2,3\"/>"
                out += "<text x=\"\(f(x0 + panelWidth - 4))\" y=\"\(f(y - 4))\" text-anchor=\"end\" fill=\"#666\">limit \(escape(unit(limit)))</text>\n"
            }
            for p in Self.policies {
                let points = rows.compactMap { row in row.estimates[p].map { (Double(row.ranks), value($0)) } }
                    .filter { $0.1 > 0 }
                guard !points.isEmpty else { continue }
                let color = colors[p] ?? "black"
                let dash = p == "auto" ? " stroke-dasharray=\"6,3\"" : ""
                out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash) points=\""
                    + points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ") + "\"/>\n"
                for (r, v) in points {
                    out += "<circle cx=\"\(f(px(r)))\" cy=\"\(f(py(v)))\" r=\"3\" fill=\"\(color)\"><title>\(p), \(Int(r)) ranks: \(escape(unit(v)))</title></circle>\n"
                }
            }
        }
        panel(left, "step time (ms, log scale)", { $0.seconds * 1e3 }, { Self.short($0) + " ms" }, limit: nil)
        panel(left + panelWidth + gap, "peak memory per rank (log scale)", { Double($0.peakBytesPerRank) },
              { StepEstimate.bytes(Int($0)) }, limit: memoryLimit.map(Double.init))
        for (k, p) in Self.policies.enumerated() {
            let x = left + Double(k) * 120
            let y = top + panelHeight + 62
            out += "<line x1=\"\(f(x))\" y1=\"\(f(y - 4))\" x2=\"\(f(x + 24))\" y2=\"\(f(y - 4))\" stroke=\"\(colors[p] ?? "black")\" stroke-width=\"2\"\(p == "auto" ? " stroke-dasharray=\"6,3\"" : "")/>"
            out += "<text x=\"\(f(x + 30))\" y=\"\(f(y))\">\(p)</text>\n"
        }
        return out + "</svg>\n"
    }

    static func short(_ v: Double) -> String {
        v >= 1 ? String(format: "%.0f", v) : String(format: "%g", v)
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
