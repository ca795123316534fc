import Foundation

/// The SVG pieces of `CurvesChart`: axes with ticks and labels, curves, legends.
extension CurvesChart {
    /// `data-NAME-domain` and `data-NAME-pixels` of an axis (the domain with every digit).
    func transform(_ name: String, _ a: Axis) -> String {
        "data-\(name)-domain=\"\(a.lower) \(a.upper)\" data-\(name)-pixels=\"\(f(a.start)) \(f(a.end))\""
    }

    func frame(top: Double, bottom: Double) -> String {
        "<rect class=\"plot-area\" x=\"\(f(Self.left))\" y=\"\(f(top))\" width=\"\(f(Self.right - Self.left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"#333\"/>\n"
    }

    /// A horizontal axis along `y`: ticks below it, their labels, and `label` under them.
    func xAxis(_ a: Axis, id: String, at y: Double, label: String) -> String {
        var out = "<g id=\"\(id)\" class=\"axis\" data-axis=\"x\">\n"
        for t in a.ticks {
            let px = f(a.pixel(t))
            out += "<line class=\"tick\" data-value=\"\(t)\" x1=\"\(px)\" y1=\"\(f(y))\" x2=\"\(px)\" y2=\"\(f(y + 5))\" stroke=\"#333\"/>\n"
            out += "<text class=\"tick-label\" data-value=\"\(t)\" x=\"\(px)\" y=\"\(f(y + 18))\" text-anchor=\"middle\">\(a.label(t))</text>\n"
        }
        out += "<text class=\"axis-label\" x=\"\(f((Self.left + Self.right) / 2))\" y=\"\(f(y + 38))\" text-anchor=\"middle\">\(escape(label))</text>\n"
        return out + "</g>\n"
    }

    /// A vertical axis at `x` (ticks outward, left or right), optional grid lines across
    /// the plot, and `label` turned along it.
    func yAxis(_ a: Axis, id: String, at x: Double, label: String, grid: Bool, right: Bool = false) -> String {
        let out1 = right ? 5.0 : -5.0
        var out = "<g id=\"\(id)\" class=\"axis\" data-axis=\"\(right ? "y2" : "y")\">\n"
        for t in a.ticks {
            let py = f(a.pixel(t))
            if grid, t != a.lower, t != a.upper {
                out += "<line class=\"grid\" x1=\"\(f(Self.left))\" y1=\"\(py)\" x2=\"\(f(Self.right))\" y2=\"\(py)\" stroke=\"#e5e5e5\"/>\n"
            }
            out += "<line class=\"tick\" data-value=\"\(t)\" x1=\"\(f(x))\" y1=\"\(py)\" x2=\"\(f(x + out1))\" y2=\"\(py)\" stroke=\"#333\"/>\n"
            out += "<text class=\"tick-label\" data-value=\"\(t)\" x=\"\(f(x + 1.6 * out1))\" y=\"\(py)\" dy=\"4\" text-anchor=\"\(right ? "start" : "end")\">\(a.label(t))</text>\n"
        }
        let lx = right ? x + 52 : x - 52, ly = (a.start + a.end) / 2
        out += "<text class=\"axis-label\" x=\"\(f(lx))\" y=\"\(f(ly))\" text-anchor=\"middle\" transform=\"rotate(\(right ? 90 : -90) \(f(lx)) \(f(ly)))\">\(escape(label))</text>\n"
        return out + "</g>\n"
    }

    /// A curve through `points` (step, value) on axes `x` and `y`, with a dot at each
    /// point when `markers`.
    func polyline(_ id: String, _ points: [(Double, Double)], _ x: Axis, _ y: Axis, colour: String, width: Double,
                  opacity: Double, markers: Bool = false, axis: String = "y", extra: String = "") -> String {
        let text = points.map { "\(f(x.pixel($0.0))),\(f(y.pixel($0.1)))" }.joined(separator: " ")
        var out = "<polyline id=\"\(id)\" class=\"curve\" data-axis=\"\(axis)\"\(extra) fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(width)\" stroke-opacity=\"\(opacity)\" stroke-linejoin=\"round\" points=\"\(text)\"/>\n"
        if markers {
            for (s, v) in points {
                out += "<circle class=\"marker\" data-curve=\"\(id)\" cx=\"\(f(x.pixel(s)))\" cy=\"\(f(y.pixel(v)))\" r=\"4\" fill=\"white\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            }
        }
        return out
    }

    /// One row of entries above a panel: a line sample (a dot when `marker`) or a filled
    /// square (`swatch`), and the entry's name.
    func legend(at y: Double, _ entries: [(String, String, Double, Bool)], swatch: Bool = false) -> String {
        var out = "<g class=\"legend\">\n"
        var x = Self.left
        for (name, colour, opacity, marker) in entries {
            if swatch {
                out += "<rect x=\"\(f(x))\" y=\"\(f(y - 9))\" width=\"12\" height=\"12\" fill=\"\(colour)\" fill-opacity=\"\(opacity)\"/>\n"
            } else {
                out += "<line x1=\"\(f(x))\" y1=\"\(f(y - 3))\" x2=\"\(f(x + 22))\" y2=\"\(f(y - 3))\" stroke=\"\(colour)\" stroke-width=\"2\" stroke-opacity=\"\(opacity)\"/>\n"
                if marker {
                    out += "<circle cx=\"\(f(x + 11))\" cy=\"\(f(y - 3))\" r=\"3.5\" fill=\"white\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
                }
            }
            let dx = swatch ? 17.0 : 27.0
            out += "<text class=\"legend-entry\" x=\"\(f(x + dx))\" y=\"\(f(y))\">\(escape(name))</text>\n"
            // About 6.3 pixels per character at 12 px.
            x += dx + 6.3 * Double(name.count) + 20
        }
        return out + "</g>\n"
    }

    /// A pixel coordinate, to a tenth.
    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
