import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TestSupport

/// What rank 0 prints while training (plain lines into a pipe, a live line on a
/// terminal, one line with --quiet), and `distconv report` turning the metrics of a real
/// 2-epoch run into an SVG whose curves map back to the file's values.
@Suite(.serialized) struct ReportTests {
    /// 320 band images: 288 to train on, 32 held out; batch 16 gives 18 steps per epoch.
    static func data(_ dir: String) -> [String] {
        let (images, labels) = Fixtures.bandImages(count: 320, in: dir)
        return ["--data-npy", images, labels, "--batch", "16", "--lr", "0.05"]
    }

    static func json(_ line: Substring) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    @Test func twoEpochsPrintPlainLinesAndTheirCurvesMatchTheMetrics() throws {
        let dir = Fixtures.folder("report")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let metrics = dir + "/run.jsonl"
        let r = try runMPI(ranks: 2, "distconv", ["train", "--epochs", "2", "--metrics", metrics] + Self.data(dir), timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        // Not a terminal: plain lines, one per epoch, no control characters.
        #expect(!r.stdout.contains("\r") && !r.stdout.contains("\u{1B}"), "\(r.stdout.debugDescription)")
        let epochLines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        #expect(epochLines.count == 2 && epochLines[0].hasPrefix("epoch 1/2  train loss ")
            && epochLines[1].hasPrefix("epoch 2/2  train loss "), "\(r.stdout)")
        #expect(r.stdout.hasPrefix("distconv train: ") && r.stdout.contains("36 steps (18 per epoch)"), "\(r.stdout)")

        // Every step record carries its time in the five groups, adding up to step_ms.
        let lines = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n")
        let steps = lines.compactMap(Self.json).filter { $0["step"] != nil }
        let epochs = lines.compactMap(Self.json).filter { $0["test_loss"] != nil }
        #expect(steps.count == 36 && epochs.count == 2)
        let groups = ["compute", "halo", "allreduce", "data", "waiting"]
        for s in steps {
            let time = s["time_ms"] as? [String: Double] ?? [:]
            #expect(Set(time.keys) == Set(groups), "\(s)")
            let total = s["step_ms"] as? Double ?? -1
            #expect(abs(time.values.reduce(0, +) - total) < 1e-3 && total > 0, "\(s)")
            #expect((time["compute"] ?? 0) > 0 && (time["halo"] ?? 0) > 0, "2 ranks split H: compute and halo take time: \(s)")
        }
        #expect(epochs.map { $0["at_step"] as? Int } == [18, 36])

        let report = try runProduct("distconv", ["report", metrics])
        #expect(report.status == 0, "\(report.stdout)\n\(report.stderr)")
        let svgPath = dir + "/run.svg"
        #expect(report.stdout == "wrote \(svgPath): 36 steps, 2 epochs; loss and test accuracy against step, time per step (compute, halo, allreduce, data, waiting)\n")
        let svg = try SVGDocument(path: svgPath)

        // Axes labelled, and every tick's label sits at its value's pixel.
        let labels = svg.elements.filter { $0.classes.contains("axis-label") }.map(\.text)
        for expected in ["step", "loss (cross-entropy, nats)", "test accuracy (%)", "time per step (ms)"] {
            #expect(labels.contains(expected), "axis labels \(labels)")
        }
        let loss = try #require(svg.byID["loss-panel"]), time = try #require(svg.byID["time-panel"])
        let lx = try loss.transform("x"), ly = try loss.transform("y"), ly2 = try loss.transform("y2")
        let tx = try time.transform("x"), ty = try time.transform("y")
        for (axisID, axis, coordinate) in [("loss-x-axis", lx, "x1"), ("loss-y-axis", ly, "y1"), ("accuracy-y-axis", ly2, "y1"),
                                           ("time-x-axis", tx, "x1"), ("time-y-axis", ty, "y1")] {
            let ticks = svg.elements.filter { $0.parents.contains(axisID) && $0.classes.contains("tick") }
            let tickLabels = svg.elements.filter { $0.parents.contains(axisID) && $0.classes.contains("tick-label") }
            #expect(ticks.count >= 3 && ticks.count == tickLabels.count, "\(axisID): \(ticks.count) ticks")
            for (tick, label) in zip(ticks, tickLabels) {
                let value = try #require(Double(label.text), "\(axisID): label '\(label.text)'")
                let pixel = try #require(Double(tick.attributes[coordinate] ?? ""))
                #expect(abs(axis.pixel(value) - pixel) <= 0.051, "\(axisID): tick \(label.text) at \(pixel)")
            }
        }

        // The curves: each point is its record's value, to within a pixel.
        let train = try svg.points("train-loss")
        #expect(train.count == 36)
        for (p, s) in zip(train, steps) {
            #expect(abs(lx.value(p.x) - Double(s["step"] as? Int ?? 0)) <= lx.valuePerPixel, "step \(s)")
            #expect(abs(ly.value(p.y) - (s["loss"] as? Double ?? .nan)) <= ly.valuePerPixel, "loss \(s)")
        }
        let testLoss = try svg.points("test-loss"), accuracy = try svg.points("test-accuracy")
        #expect(testLoss.count == 2 && accuracy.count == 2)
        for (k, e) in epochs.enumerated() where k < testLoss.count && k < accuracy.count {
            #expect(abs(lx.value(testLoss[k].x) - Double(e["at_step"] as? Int ?? 0)) <= lx.valuePerPixel)
            #expect(abs(ly.value(testLoss[k].y) - (e["test_loss"] as? Double ?? .nan)) <= ly.valuePerPixel, "\(e)")
            #expect(abs(ly2.value(accuracy[k].y) - (e["test_accuracy"] as? Double ?? .nan)) <= ly2.valuePerPixel, "\(e)")
        }
        // Stacked areas: a group's top edge is the running sum of the groups up to it
        // (clipped at the axis's top).
        var below = [Double](repeating: 0, count: steps.count)
        for g in groups {
            let area = try svg.points("time-\(g)")
            #expect(area.count == 2 * steps.count, "time-\(g): \(area.count) points")
            for (k, s) in steps.enumerated() where k < area.count {
                below[k] += (s["time_ms"] as? [String: Double])?[g] ?? .nan
                #expect(abs(tx.value(area[k].x) - Double(s["step"] as? Int ?? 0)) <= tx.valuePerPixel)
                #expect(abs(ty.value(area[k].y) - min(below[k], ty.upper)) <= ty.valuePerPixel, "time-\(g) at \(s)")
            }
        }
        // A loss that falls: the task is learnable in two epochs.
        #expect((epochs.last?["test_accuracy"] as? Double ?? 0) > 50, "\(epochs)")
    }

    @Test func quietPrintsOnlyTheFinalSummary() throws {
        let dir = Fixtures.folder("report-quiet")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runMPI(ranks: 2, "distconv", ["train", "--steps", "4", "--quiet"] + Self.data(dir), timeout: 120)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[0].hasPrefix("epoch 1/1  train loss ") && lines[0].contains("test accuracy")
            && lines[1].isEmpty, "\(r.stdout.debugDescription)")
    }

    /// Under a pseudo-terminal (`script` from util-linux): the live line is redrawn in
    /// place with carriage return and erase-line, and the epoch's summary replaces it.
    @Test func aTerminalSeesTheLiveLine() throws {
        let dir = Fixtures.folder("report-tty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let command = ([packageRoot.appendingPathComponent("launch/local").path, "-n", "2",
                        productsDirectory.appendingPathComponent("distconv").path, "train", "--steps", "6"] + Self.data(dir))
            .map { "'\($0)'" }.joined(separator: " ")
        let r = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"], timeout: 120)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let clear = "\r\u{1B}[K"
        let redraws = r.stdout.components(separatedBy: clear).dropFirst()
        #expect(redraws.count >= 2, "\(r.stdout.debugDescription)")
        let first = try #require(redraws.first)
        #expect(first.hasPrefix("epoch 1/1  step 1/6  loss ") && first.contains(" images/s  ETA "), "\(first.debugDescription)")
        for line in redraws.dropLast() {
            // Each redraw is one line's worth of text, not ended by a newline.
            #expect(line.hasPrefix("epoch 1/1  step ") && !line.contains("\n"), "\(line.debugDescription)")
        }
        #expect(redraws.last?.hasPrefix("epoch 1/1  train loss ") == true, "\(r.stdout.debugDescription)")
        // Six steps, a redraw at most every 0.25 s: no more redraws than steps.
        #expect(redraws.count - 1 <= 6)
    }

    @Test func badInputEndsWithOneLine() throws {
        let dir = Fixtures.folder("report-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = "{\"step\": 1, \"epoch\": 1, \"loss\": 2.3, \"lr\": 0.01, \"images_per_s\": 1.0}"
        let cases: [(String, String?, String)] = [
            ("missing.jsonl", nil, "missing.jsonl: cannot read the file"),
            ("table.jsonl", "step,loss\n1,2.3\n", "table.jsonl line 1: not JSON ('step,loss')"),
            ("epochs.jsonl", "{\"epoch\": 1, \"test_loss\": 1.0}\n", "epochs.jsonl: no step records (lines with \"step\" and \"loss\", as train --metrics writes)"),
            ("broken.jsonl", "\(good)\n\(good)\n{\"step\": 3, \"epoch\": 1, \"loss\": \"high\"}\n", "broken.jsonl line 3, field 'loss': not a number (high)"),
        ]
        for (name, contents, message) in cases {
            let path = dir + "/" + name
            if let contents { try contents.write(toFile: path, atomically: true, encoding: .utf8) }
            let r = try runProduct("distconv", ["report", path])
            #expect(r.status == 2, "\(name): exit \(r.status)\n\(r.stderr)")
            #expect(r.stderr == "distconv: error: \(dir)/\(message)\n", "\(name): \(r.stderr)")
            #expect(r.stdout.isEmpty && !FileManager.default.fileExists(atPath: dir + "/" + name.replacingOccurrences(of: ".jsonl", with: ".svg")))
        }
        try "\(good)\n".write(toFile: dir + "/good.jsonl", atomically: true, encoding: .utf8)
        let r = try runProduct("distconv", ["report", dir + "/good.jsonl", "--output", "/no/such/dir/x.svg"])
        #expect(r.status == 2 && r.stderr == "distconv: error: --output: /no/such/dir/x.svg: cannot write the file\n", "\(r.stderr)")
    }
}

/// An SVG file's elements, read with Foundation's XMLParser: each element's attributes,
/// text, classes and the ids of the elements around it.
final class SVGDocument: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text = ""
        var parents: [String]
        var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }

        /// An axis transform the panel states: `data-NAME-domain` and `data-NAME-pixels`.
        func transform(_ name: String) throws -> Transform {
            let domain = (attributes["data-\(name)-domain"] ?? "").split(separator: " ").compactMap { Double($0) }
            let pixels = (attributes["data-\(name)-pixels"] ?? "").split(separator: " ").compactMap { Double($0) }
            let t = Transform(lower: domain.first ?? 0, upper: domain.last ?? 0, start: pixels.first ?? 0, end: pixels.last ?? 0)
            try #require(domain.count == 2 && pixels.count == 2 && t.lower < t.upper, "\(attributes["id"] ?? name): no \(name) transform")
            return t
        }
    }

    struct Transform {
        var lower, upper, start, end: Double
        func pixel(_ v: Double) -> Double { start + (v - lower) / (upper - lower) * (end - start) }
        func value(_ p: Double) -> Double { lower + (p - start) / (end - start) * (upper - lower) }
        var valuePerPixel: Double { (upper - lower) / abs(end - start) }
    }

    private(set) var elements: [Element] = []
    private var open: [Int] = []
    var byID: [String: Element] {
        Dictionary(elements.compactMap { e in e.attributes["id"].map { ($0, e) } }, uniquingKeysWith: { a, _ in a })
    }

    init(path: String) throws {
        super.init()
        let parser = try #require(XMLParser(contentsOf: URL(fileURLWithPath: path)))
        parser.delegate = self
        try #require(parser.parse(), "\(path): \(parser.parserError.map { "\($0)" } ?? "not XML")")
        try #require(elements.first?.name == "svg")
    }

    /// The `points` of a polyline or polygon.
    func points(_ id: String) throws -> [(x: Double, y: Double)] {
        let e = try #require(byID[id], "no element #\(id)")
        return (e.attributes["points"] ?? "").split(separator: " ").compactMap { pair in
            let xy = pair.split(separator: ",").compactMap { Double($0) }
            return xy.count == 2 ? (xy[0], xy[1]) : nil
        }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        let parents = open.compactMap { elements[$0].attributes["id"] }
        elements.append(Element(name: name, attributes: attributes, parents: parents))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let k = open.last { elements[k].text += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }
}
