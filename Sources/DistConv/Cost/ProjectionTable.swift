import Foundation

/// Predicted scaling of one model over rank counts, for each grid policy and the grid
/// search: step time, speed-up and efficiency against the fastest policy at the first
/// rank count, and peak memory per rank. Text, JSON and an SVG plot
/// (`ProjectionTable+SVG`).
public struct ProjectionTable: Sendable {
    public struct Row: Sendable {
        public var ranks: Int
        /// Policy name (`batch`, `spatial`, `hybrid`, `auto`) -> its prediction; auto is
        /// missing where no grid fits the memory limit.
        public var estimates: [String: StepEstimate] = [:]

        public init(ranks: Int) { self.ranks = ranks }
    }

    public static let policies = ["batch", "spatial", "hybrid", "auto"]

    public var model: String
    public var profile: String
    /// The links the prediction assumed, in words.
    public var links: String
    public var memoryLimit: Int?
    public var rows: [Row]

    public init(model: String, profile: String, links: String, memoryLimit: Int?, rows: [Row]) {
        self.model = model
        self.profile = profile
        self.links = links
        self.memoryLimit = memoryLimit
        self.rows = rows
    }

    /// The step time speed-ups are measured against: the fastest policy at the first
    /// rank count, taken as that many ranks' worth of work.
    var baseline: (ranks: Int, seconds: Double)? {
        guard let first = rows.first, let fastest = first.estimates.values.map(\.seconds).min() else { return nil }
        return (first.ranks, fastest)
    }

    public func speedUp(_ e: StepEstimate) -> Double {
        guard let b = baseline, e.seconds > 0 else { return 0 }
        return b.seconds / e.seconds
    }

    public func efficiency(_ e: StepEstimate, ranks: Int) -> Double {
        guard let b = baseline else { return 0 }
        return speedUp(e) / (Double(ranks) / Double(b.ranks))
    }

    public var text: String {
        var out = "\(model): predicted training step per policy, \(profile)\n\(links)\n"
        if let memoryLimit { out += "memory limit per rank: \(StepEstimate.bytes(memoryLimit)) (* = over it)\n" }
        out += "\n" + pad(["ranks", "policy", "step ms", "speed-up", "efficiency", "memory/rank", "compute", "halo",
                          "allreduce", "data"]) + "\n"
        for row in rows {
            for p in Self.policies {
                guard let e = row.estimates[p] else {
                    out += pad(["\(row.ranks)", p, "no fit"]) + "\n"
                    continue
                }
                let over = memoryLimit.map { e.peakBytesPerRank > $0 } ?? false
                out += pad([
                    "\(row.ranks)", p, String(format: "%.2f", e.seconds * 1e3), String(format: "%.2f", speedUp(e)),
                    String(format: "%.1f%%", 100 * efficiency(e, ranks: row.ranks)),
                    StepEstimate.bytes(e.peakBytesPerRank) + (over ? " *" : ""), String(format: "%.2f", e.compute * 1e3),
                    String(format: "%.2f", e.halo * 1e3), String(format: "%.2f", e.allreduce * 1e3),
                    String(format: "%.2f", e.data * 1e3),
                ]) + "\n"
            }
        }
        return out
    }

    public var json: String {
        struct Entry: Encodable {
            var ranks: Int
            var policy: String
            var speedUp: Double
            var efficiency: Double
            var prediction: StepEstimate.Document
        }
        struct Document: Encodable {
            var format = "distconv-projection"
            var version = 1
            var model: String
            var profile: String
            var links: String
            var memoryLimit: Int?
            var points: [Entry]
        }
        var points: [Entry] = []
        for row in rows {
            for p in Self.policies {
                guard let e = row.estimates[p] else { continue }
                let d = e.document(grids: [:])
                points.append(Entry(ranks: row.ranks, policy: p, speedUp: speedUp(e), efficiency: efficiency(e, ranks: row.ranks),
                                    prediction: d))
            }
        }
        return StepEstimate.json(Document(model: model, profile: profile, links: links, memoryLimit: memoryLimit,
                                          points: points)) + "\n"
    }

    /// Columns padded to fixed widths, the first two left-aligned.
    func pad(_ cells: [String]) -> String {
        let widths = [6, 8, 10, 9, 11, 13, 10, 10, 10, 8]
        return cells.enumerated().map { i, c in
            let w = i < widths.count ? widths[i] : 10
            let space = String(repeating: " ", count: max(0, w - c.count))
            return i < 2 ? c + space : space + c
        }.joined(separator: " ")
    }

    /// The `--auto` table's header and rows: one policy's breakdown.
    public static let breakdownHeader = "policy     compute ms    halo ms  allreduce ms    data ms    step ms   peak/rank"

    public static func breakdownRow(_ name: String, _ e: StepEstimate) -> String {
        func c(_ s: Double, _ w: Int) -> String {
            let t = String(format: "%.3f", s * 1e3)
            return String(repeating: " ", count: max(0, w - t.count)) + t
        }
        let peak = StepEstimate.bytes(e.peakBytesPerRank)
        return name + String(repeating: " ", count: max(0, 8 - name.count)) + c(e.compute, 13) + c(e.halo, 11)
            + c(e.allreduce, 14) + c(e.data, 11) + c(e.seconds, 11) + String(repeating: " ", count: max(0, 12 - peak.count)) + peak
    }
}
