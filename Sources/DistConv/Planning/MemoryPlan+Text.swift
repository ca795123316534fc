import Foundation
import Geometry

extension MemoryPlan {
    /// Distinct grids of the model's ops, most used first: `[1, 1, 2, 2] x41, [4, 1, 1, 1] x6`.
    public var gridSummary: String {
        var counts: [[Int]: Int] = [:]
        var order: [[Int]] = []
        for op in partition.model.ops {
            if counts[op.grid] == nil { order.append(op.grid) }
            counts[op.grid, default: 0] += 1
        }
        let uses = order.map { (grid: $0, count: counts[$0, default: 0]) }
        return uses.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }
            .map { "[\($0.element.grid.map(String.init).joined(separator: ", "))] x\($0.element.count)" }.joined(
                separator: ", ")
    }

    /// The report as text: a header (model, grids, the graph's totals), one row per rank
    /// (parameters, parameter gradients, optimizer state, activations, activation
    /// gradients, lower bound, arena, arena over lower bound, layer state and exchange
    /// scratch, peak: everything the rank allocates), and, for `rank`,
    /// every arena buffer with its bytes, lifetime and offset.
    public func text(graph: GraphTotals? = nil, rank: Int? = nil, policy: String? = nil) -> String {
        let model = partition.model
        var out = "# distconv plan: \(model.name) on \(ranks) rank\(ranks == 1 ? "" : "s")"
        out += policy.map { ", \($0) grid" } ?? ""
        out +=
            ", optimizer \(options.optimizer.rawValue) (\(options.optimizer.statesPerParameter) state\(options.optimizer.statesPerParameter == 1 ? "" : "s") per parameter)\n"
        out +=
            "model: batch \(model.batch), input \(model.dataOp.outputShape.dropFirst().map(String.init).joined(separator: "x")); grids \(gridSummary)\n"
        if let g = graph {
            out +=
                "graph \(g.source): \(g.tensors) tensors, \(g.ops) ops, \(grouped(g.totalBytes)) bytes if every tensor lived at once, \(grouped(g.parameterBytes)) bytes of parameters"
            out +=
                g.modelBytes == g.totalBytes
                ? " (imported model: the same)\n" : " (at this batch and image size: \(grouped(g.modelBytes)))\n"
        }
        let forward = steps.filter { $0.phase == .forward }.count
        out +=
            "schedule: \(steps.count) steps (\(forward) forward from the data op, \(steps.count - forward) backward); arena by \(options.strategy.rawValue), \(options.alignment)-byte aligned\n\n"

        var rows = [
            [
                "rank", "parameters", "param-grads", "optimizer", "activations", "act-grads", "lower-bound", "arena",
                "arena/bound", "state+scratch", "peak",
            ]
        ]
        if graph != nil { rows[0].insert("graph-tensors", at: 1) }
        for p in rankPlans {
            var row = [
                String(p.rank), grouped(p.parameterBytes), grouped(p.parameterGradientBytes),
                grouped(p.optimizerStateBytes),
                grouped(p.activationBytes), grouped(p.activationGradientBytes), grouped(p.lowerBound),
                grouped(p.arenaBytes),
                threeDecimals(p.ratio) + "x", grouped(p.stateBytes + p.scratchBytes), grouped(p.peakBytes),
            ]
            if let g = graph { row.insert(grouped(g.bytesPerRank[p.rank]), at: 1) }
            rows.append(row)
        }
        out += table(rows)
        let worst = rankPlans.max { $0.ratio < $1.ratio }
        if let worst {
            out +=
                "\nworst arena/bound \(threeDecimals(worst.ratio))x (rank \(worst.rank), \(worst.strategy.rawValue)); peak per rank up to \(grouped(rankPlans.map(\.peakBytes).max() ?? 0)) bytes\n"
        }
        if let r = rank { out += "\n" + bufferTable(rank: r) }
        return out
    }

    /// Every arena buffer of one rank: tensor, kind, bytes, region, lifetime (steps and
    /// op names) and offset, by offset then first step.
    public func bufferTable(rank r: Int) -> String {
        let p = rankPlans[r]
        var rows = [["offset", "bytes", "steps", "tensor", "role", "region", "first op .. last op"]]
        for b in p.buffers.sorted(by: { ($0.offset, $0.lifetime.lowerBound) < ($1.offset, $1.lifetime.lowerBound) }) {
            rows.append([
                grouped(b.offset), grouped(b.bytes), "\(b.lifetime.lowerBound)-\(b.lifetime.upperBound)", b.tensor,
                "\(b.shard.role)", "\(b.shard.region.origin)+\(b.shard.region.size)",
                "\(steps[b.lifetime.lowerBound].name) .. \(steps[b.lifetime.upperBound].name)",
            ])
        }
        return
            "rank \(r): \(p.buffers.count) arena buffers in \(grouped(p.arenaBytes)) bytes (lower bound \(grouped(p.lowerBound)))\n"
            + table(rows)
    }
}

/// Columns padded to their widest cell; numbers right-aligned, words left-aligned.
func table(_ rows: [[String]]) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    let widths = (0..<columns).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { c, cell in
            let pad = String(repeating: " ", count: widths[c] - cell.count)
            let numeric = cell.first.map { $0.isNumber } ?? false
            return numeric ? pad + cell : cell + pad
        }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }.joined(separator: "\n") + "\n"
}
