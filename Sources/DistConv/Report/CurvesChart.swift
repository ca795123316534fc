import Foundation

/// The picture `distconv report` draws from a metrics file, as a self-contained SVG:
///
/// - panel 1 (`#loss-panel`): the train loss of every step (faint, `#train-loss`) and
///   its running mean (`#train-loss-mean`), the test loss at the end of each epoch
///   (`#test-loss`) on the left axis, the test accuracy (`#test-accuracy`, percent) on
///   the right axis, against the step, with each epoch's end marked;
/// - panel 2 (`#time-panel`): rank 0's time per step in milliseconds, stacked areas
///   `#time-compute`, `#time-halo`, `#time-allreduce`, `#time-data`, `#time-waiting`
///   (the groups of `TimeBreakdown`), bottom to top.
///
/// So that a reader (or a test) can map a point back to its value, each panel `<g>`
/// carries its axes' transforms as `data-x-domain="lower upper"` and
/// `data-x-pixels="start end"` (likewise `data-y-…`, `data-y2-…`): a value `v` is at
/// pixel `start + (v - lower) / (upper - lower) * (end - start)`. A stacked area's
/// `points` are its top edge left to right (the running sum up to its group), then its
/// bottom edge right to left. A time panel's y axis stops at 1.25 times the 98th
/// percentile of the step totals when a few steps (the first, usually) are far slower
/// than the rest; those are drawn at the top and named in `#time-clipped`. Past
/// `maxPoints` steps, each point of the per-step curves is the mean of
/// `stepsPerPoint` consecutive steps (`data-steps-per-point` on `#train-loss`).
public struct CurvesChart: Sendable {
    public let log: MetricsLog
    public let title: String

    static let width = 960.0
    static let left = 80.0, right = 880.0
    static let lossTop = 110.0, lossBottom = 400.0
    static let timeTop = 540.0, timeBottom = 790.0
    static let height = 910.0

    /// At most this many points per curve, one per two pixels of the plot's width (keeps
    /// the file small; the eye sees no more): a longer run's steps are drawn as means of
    /// consecutive steps (`stepsPerPoint` says how many).
    static let maxPoints = 400

    static let trainColour = "#1f77b4", testColour = "#d62728", accuracyColour = "#2ca02c"
    static let groupColours: [TimeBreakdown.Group: String] = [
        .compute: "#4e79a7", .halo: "#f28e2b", .allreduce: "#e15759", .data: "#76b7b2", .waiting: "#bab0ac",
    ]

    /// A point of the per-step curves: one step, or the mean of `first...last`.
    struct Point: Equatable {
        var first: Int, last: Int
        /// The mean step.
        var step: Double
        var loss: Double?
        var milliseconds: [TimeBreakdown.Group: Double]?
    }

    /// The per-step curves' points.
    let points: [Point]
    /// Steps per point: 1, or `ceil(steps / maxPoints)`.
    public let stepsPerPoint: Int

    public init(_ log: MetricsLog, title: String) {
        self.log = log
        self.title = title
        stepsPerPoint = max(1, (log.steps.count + Self.maxPoints - 1) / Self.maxPoints)
        points = Self.bin(log.steps, size: stepsPerPoint)
    }

    /// Consecutive runs of `size` steps as one point each: the mean step, the mean of
    /// the losses that are known (nil when none is), the mean time of the steps that
    /// have one.
    static func bin(_ steps: [MetricsLog.Step], size: Int) -> [Point] {
        stride(from: 0, to: steps.count, by: size).map { start in
            let group = steps[start..<min(steps.count, start + size)]
            let losses = group.compactMap(\.loss)
            let timed = group.compactMap(\.milliseconds)
            var ms: [TimeBreakdown.Group: Double]?
            if !timed.isEmpty {
                ms = Dictionary(uniqueKeysWithValues: TimeBreakdown.Group.allCases.map { g in
                    (g, timed.reduce(0) { $0 + ($1[g] ?? 0) } / Double(timed.count))
                })
            }
            return Point(first: group.first?.step ?? 0, last: group.last?.step ?? 0,
                         step: Double(group.reduce(0) { $0 + $1.step }) / Double(group.count),
                         loss: losses.isEmpty ? nil : losses.reduce(0, +) / Double(losses.count), milliseconds: ms)
        }
    }

    /// The x axis both panels share: steps from 0 to the last (or the last epoch's end).
    public var stepAxis: Axis {
        let last = max(log.steps.last?.step ?? 1, log.epochs.map(\.atStep).max() ?? 0)
        return Axis(covering: 0, Double(last), pixels: Self.left, Self.right, targetTicks: 8)
    }

    public func svg() -> String {
        let epochs = log.epochs.count
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" class="distconv-curves" width="\(Int(Self.width))" height="\(Int(Self.height))" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text id="title" x="\(f(Self.left))" y="30" font-size="17" font-weight="bold">\(escape(title))</text>
            <text id="subtitle" x="\(f(Self.left))" y="50" fill="#555">\(log.steps.count) steps, \(epochs) epoch\(epochs == 1 ? "" : "s") (from \(escape(log.file)))</text>

            """
        out += lossPanel()
        out += timePanel()
        return out + "</svg>\n"
    }

    // MARK: Panel 1

    func lossPanel() -> String {
        let x = stepAxis
        let trainPoints = points.compactMap { p in p.loss.map { (p.step, $0) } }
        let means = Self.runningMean(trainPoints.map(\.1), window: Self.meanWindow(trainPoints.count))
        let testPoints = log.epochs.compactMap { e in e.testLoss.map { (Double(e.atStep), $0) } }
        let accuracyPoints = log.epochs.compactMap { e in e.testAccuracy.map { (Double(e.atStep), $0) } }
        let losses = trainPoints.map(\.1) + testPoints.map(\.1)
        let y = Axis(covering: min(0, losses.min() ?? 0), losses.max() ?? 1, pixels: Self.lossBottom, Self.lossTop)
        let accuracies = accuracyPoints.map(\.1)
        let y2 = accuracies.isEmpty
            ? nil : Axis(covering: accuracies.min() ?? 0, min(100, accuracies.max() ?? 100), pixels: Self.lossBottom, Self.lossTop)
        var out = "<g id=\"loss-panel\" class=\"panel\" \(transform("x", x)) \(transform("y", y))"
            + (y2.map { " " + transform("y2", $0) } ?? "") + ">\n"
        out += "<text class=\"panel-title\" x=\"\(f(Self.left))\" y=\"\(f(Self.lossTop - 40))\" font-size=\"14\" font-weight=\"bold\">Loss and test accuracy</text>\n"
        out += frame(top: Self.lossTop, bottom: Self.lossBottom)
        out += yAxis(y, id: "loss-y-axis", at: Self.left, label: "loss (cross-entropy, nats)", grid: true)
        if let y2 { out += yAxis(y2, id: "accuracy-y-axis", at: Self.right, label: "test accuracy (%)", grid: false, right: true) }
        out += xAxis(x, id: "loss-x-axis", at: Self.lossBottom, label: "step")
        out += epochMarks(x)
        let faint = Self.meanWindow(trainPoints.count) > 1
        out += polyline("train-loss", trainPoints, x, y, colour: Self.trainColour, width: faint ? 1 : 1.5,
                        opacity: faint ? 0.35 : 1, extra: " data-steps-per-point=\"\(stepsPerPoint)\"")
        let window = Self.meanWindow(trainPoints.count)
        if window > 1 {
            out += polyline("train-loss-mean", zip(trainPoints, means).map { ($0.0.0, $0.1) }, x, y, colour: Self.trainColour,
                            width: 2, opacity: 1, extra: " data-window=\"\(window)\"")
        }
        out += polyline("test-loss", testPoints, x, y, colour: Self.testColour, width: 2, opacity: 1, markers: true)
        if let y2 {
            out += polyline("test-accuracy", accuracyPoints, x, y2, colour: Self.accuracyColour, width: 2, opacity: 1,
                            markers: true, axis: "y2")
            if accuracyPoints.count <= 12 {
                for (s, a) in accuracyPoints {
                    out += "<text class=\"value-label\" x=\"\(f(x.pixel(s) - 6))\" y=\"\(f(y2.pixel(a) - 8))\" text-anchor=\"end\" fill=\"\(Self.accuracyColour)\">\(String(format: "%.1f%%", a))</text>\n"
                }
            }
        }
        let perPoint = stepsPerPoint == 1 ? "per step" : "per \(stepsPerPoint) steps"
        out += legend(at: Self.lossTop - 16, [("train loss \(perPoint)", Self.trainColour, window > 1 ? 0.35 : 1, false)]
            + (window > 1 ? [("running mean of \(window * stepsPerPoint) steps", Self.trainColour, 1, false)] : [])
            + [("test loss (end of epoch)", Self.testColour, 1, true)]
            + (y2 == nil ? [] : [("test accuracy, right axis", Self.accuracyColour, 1, true)]))
        return out + "</g>\n"
    }

    /// A dashed line and a label at the end of each epoch.
    func epochMarks(_ x: Axis) -> String {
        var out = ""
        for e in log.epochs {
            let px = f(x.pixel(Double(e.atStep)))
            out += "<line class=\"epoch-end\" data-epoch=\"\(e.epoch)\" x1=\"\(px)\" y1=\"\(f(Self.lossTop))\" x2=\"\(px)\" y2=\"\(f(Self.lossBottom))\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n"
            out += "<text class=\"epoch-label\" x=\"\(px)\" y=\"\(f(Self.lossTop + 14))\" text-anchor=\"end\" dx=\"-4\" fill=\"#777\" font-size=\"11\">epoch \(e.epoch)</text>\n"
        }
        return out
    }

    // MARK: Panel 2

    func timePanel() -> String {
        let x = stepAxis
        let timed = points.filter { $0.milliseconds != nil }
        var out = "<g id=\"time-panel\" class=\"panel\" \(transform("x", x))"
        guard !timed.isEmpty else {
            out += ">\n<text class=\"panel-title\" x=\"\(f(Self.left))\" y=\"\(f(Self.timeTop - 40))\" font-size=\"14\" font-weight=\"bold\">Time per step</text>\n"
            out += "<text id=\"time-missing\" x=\"\(f(Self.left))\" y=\"\(f(Self.timeTop))\" fill=\"#555\">This file has no time breakdown (\"time_ms\"): it was written by an older distconv.</text>\n"
            return out + "</g>\n"
        }
        let groups = TimeBreakdown.Group.allCases
        // sums[g][i]: step i's time in groups 0...g.
        var sums: [[Double]] = []
        for (g, group) in groups.enumerated() {
            sums.append(timed.enumerated().map { i, s in (g == 0 ? 0 : sums[g - 1][i]) + (s.milliseconds?[group] ?? 0) })
        }
        let totals = sums[groups.count - 1]
        let sorted = totals.sorted()
        let p98 = sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * 0.98))]
        let top = min(sorted.last ?? 1, 1.25 * p98)
        let y = Axis(covering: 0, top > 0 ? top : 1, pixels: Self.timeBottom, Self.timeTop)
        out += " \(transform("y", y))>\n"
        out += "<text class=\"panel-title\" x=\"\(f(Self.left))\" y=\"\(f(Self.timeTop - 40))\" font-size=\"14\" font-weight=\"bold\">Time per step (rank 0)</text>\n"
        out += frame(top: Self.timeTop, bottom: Self.timeBottom)
        out += yAxis(y, id: "time-y-axis", at: Self.left, label: "time per step (ms)", grid: true)
        out += xAxis(x, id: "time-x-axis", at: Self.timeBottom, label: "step")
        let xs = timed.map { x.pixel($0.step) }
        for (g, group) in groups.enumerated() {
            let upper = sums[g].map { y.pixel(min($0, y.upper)) }
            let lower = g == 0 ? xs.map { _ in y.pixel(0) } : sums[g - 1].map { y.pixel(min($0, y.upper)) }
            let edge = zip(xs, upper).map { "\(f($0)),\(f($1))" } + zip(xs, lower).reversed().map { "\(f($0)),\(f($1))" }
            out += "<polygon id=\"time-\(group.rawValue)\" class=\"area\" data-group=\"\(group.rawValue)\" data-steps-per-point=\"\(stepsPerPoint)\" fill=\"\(Self.groupColours[group] ?? "#888")\" fill-opacity=\"0.85\" stroke=\"none\" points=\"\(edge.joined(separator: " "))\"/>\n"
        }
        let clipped = timed.indices.filter { totals[$0] > y.upper }
        if !clipped.isEmpty {
            let named = clipped.prefix(4).map { k in
                let p = timed[k]
                return (p.first == p.last ? "step \(p.first)" : "steps \(p.first)-\(p.last)") + String(format: " (%.1f ms)", totals[k])
            }.joined(separator: ", ")
            out += "<text id=\"time-clipped\" x=\"\(f(Self.right))\" y=\"\(f(Self.timeTop - 4))\" text-anchor=\"end\" fill=\"#555\" font-size=\"11\">cut off at the top: \(named)\(clipped.count > 4 ? " and \(clipped.count - 4) more" : "")</text>\n"
        }
        let everyStep = log.steps.compactMap(\.milliseconds)
        let means = groups.map { g in everyStep.reduce(0) { $0 + ($1[g] ?? 0) } / Double(everyStep.count) }
        let whole = means.reduce(0, +)
        out += legend(at: Self.timeTop - 16, groups.enumerated().map { k, g in
            (String(format: "%@ %.2f ms (%.0f%%)", g.rawValue, means[k], whole > 0 ? 100 * means[k] / whole : 0),
             Self.groupColours[g] ?? "#888", 0.85, false)
        }, swatch: true)
        let notes = [
            "Legend: mean per step (\(String(format: "%.2f", whole)) ms in all). compute: each op kind's forward and backward, the optimizer;",
            "data: loading the batch; halo: exchanges between layouts (halo, reverse halo, partial sums), with any wait for a late neighbour;",
            "allreduce: the wait for the gradient buckets; waiting: the rest of the step's wall time, mostly the loss's allreduce,",
            "where rank 0 waits for the slowest rank.",
        ]
        for (k, note) in notes.enumerated() {
            out += "<text class=\"note\" x=\"\(f(Self.left))\" y=\"\(f(Self.timeBottom + 58 + 14 * Double(k)))\" fill=\"#555\" font-size=\"11\">\(escape(note))</text>\n"
        }
        return out + "</g>\n"
    }

    // MARK: Pieces

    /// The window of the train loss's running mean: about a fiftieth of the steps, at
    /// least 5, odd; 1 (no mean drawn) below 20 steps.
    static func meanWindow(_ count: Int) -> Int { count < 20 ? 1 : max(5, count / 50) | 1 }

    /// The mean of each value's centred window (shrunk at the ends).
    static func runningMean(_ values: [Double], window: Int) -> [Double] {
        var prefix = [0.0]
        for v in values { prefix.append(prefix[prefix.count - 1] + v) }
        let half = window / 2
        return values.indices.map { i in
            let lo = max(0, i - half), hi = min(values.count, i + half + 1)
            return (prefix[hi] - prefix[lo]) / Double(hi - lo)
        }
    }
}
