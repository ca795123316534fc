import Foundation
import Testing
import TestSupport

@testable import DistConv

/// The pure parts of progress and `distconv report`: the axes' ticks and transforms, the
/// metrics file's reader and its errors, the time groups, the live line's throttle.
@Suite struct ReportTests {
    // MARK: Axis

    @Test func niceStepsAreOneTwoOrFiveTimesAPowerOfTen() {
        #expect(Axis.niceStep(span: 10, targetTicks: 5) == 2)
        #expect(Axis.niceStep(span: 2.3, targetTicks: 5) == 0.5)
        #expect(Axis.niceStep(span: 1874, targetTicks: 8) == 500)
        #expect(abs(Axis.niceStep(span: 0.037, targetTicks: 5) - 0.01) < 1e-15)
        #expect(Axis.niceStep(span: 100, targetTicks: 10) == 10)
    }

    @Test func aLossAxisFromZero() {
        let a = Axis(covering: 0, 2.37, pixels: 400, 110)
        #expect(a.step == 0.5 && a.lower == 0 && a.upper == 2.5)
        #expect(a.ticks == [0, 0.5, 1, 1.5, 2, 2.5])
        #expect(a.ticks.map(a.label) == ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"])
        #expect(a.pixel(0) == 400 && a.pixel(2.5) == 110)
        // y grows downward: half the domain is half-way up.
        #expect(abs(a.pixel(1.25) - 255) < 1e-9)
    }

    @Test func aValueOnATickOpensNoNewInterval() {
        // 0.1 * 3 is 0.30000000000000004: still the tick 0.3, not a new one at 0.4.
        let a = Axis(covering: 0, 0.1 * 3, pixels: 0, 100, targetTicks: 3)
        #expect(a.step == 0.1 && abs(a.upper - 0.3) < 1e-12, "\(a)")
        #expect(a.ticks.map(a.label) == ["0.0", "0.1", "0.2", "0.3"])
    }

    @Test func equalValuesGetADomainAroundThem() {
        let zero = Axis(covering: 0, 0, pixels: 0, 100)
        #expect(zero.lower < 0 && zero.upper > 0)
        let a = Axis(covering: 62.5, 62.5, pixels: 400, 110)
        #expect(a.lower < 62.5 && a.upper > 62.5 && a.ticks.count >= 2, "\(a)")
    }

    @Test func negativeValuesAndLabelsWithoutMinusZero() {
        let a = Axis(covering: -0.3, 0.7, pixels: 0, 500)
        #expect(a.lower == -0.4 && a.upper == 0.8 && a.step == 0.2, "\(a)")
        #expect(a.label(-0.0) == "0.0" && a.label(a.ticks[2]) == "0.0" && a.label(-0.4) == "-0.4")
        #expect(Axis(covering: 0, 1874, pixels: 0, 800, targetTicks: 8).ticks.map { Int($0) } == [0, 500, 1000, 1500, 2000])
    }

    /// Over random ranges: the domain covers the values with whole steps, a handful of
    /// evenly spaced ticks, and `value(atPixel:)` inverts `pixel`.
    @Test func randomRangesAreCoveredByAFewTicks() {
        var random = SplitMix64(seed: 12)
        for _ in 0..<2000 {
            let scale = pow(10, Double(random.next() % 13) - 6)
            let a0 = (Double(random.next() % 20001) / 10000 - 1) * scale
            let a1 = a0 + Double(random.next() % 10001) / 10000 * scale
            let target = 2 + Int(random.next() % 9)
            let axis = Axis(covering: a0, a1, pixels: 300, 20, targetTicks: target)
            let step = axis.step, mantissa = step / pow(10, log10(step).rounded(.down))
            #expect([1, 2, 5].contains { abs(mantissa - $0) < 1e-9 }, "step \(step)")
            // Covered, but for a rounding error past an end tick.
            #expect(axis.lower <= a0 + 1e-6 * step && axis.upper >= a1 - 1e-6 * step, "\(axis) covers \(a0)...\(a1)")
            let ticks = axis.ticks
            #expect(ticks.count >= 2 && ticks.count <= 2 * target + 3, "\(ticks.count) ticks for \(target) wanted")
            #expect(abs(ticks[0] - axis.lower) <= 1e-9 * step && abs(ticks[ticks.count - 1] - axis.upper) <= 1e-9 * step)
            for v in [a0, a1, (a0 + a1) / 2] {
                #expect(abs(axis.value(atPixel: axis.pixel(v)) - v) <= 1e-9 * max(scale, abs(v)))
            }
            // Each tick's label reads back as its value to within half a step.
            for t in ticks {
                #expect(abs((Double(axis.label(t)) ?? .nan) - t) < step / 2, "\(t) labelled \(axis.label(t))")
            }
        }
    }

    // MARK: The metrics file

    static let sample = """
        {"step": 1, "epoch": 1, "loss": 2.3, "lr": 0.01, "images_per_s": 100.0, "step_ms": 10.0, "time_ms": {"compute": 6.0, "halo": 2.0, "allreduce": 1.0, "data": 0.5, "waiting": 0.5}}
        {"step": 2, "epoch": 1, "loss": 2.1, "lr": 0.01, "images_per_s": 100.0}

        {"epoch": 1, "train_loss": 2.2, "test_loss": 2.0, "test_accuracy": 30.5, "seconds": 1.0}
        {"step": 3, "epoch": 2, "loss": null, "lr": 0.01, "images_per_s": 100.0}
        {"step": 2, "epoch": 1, "loss": 2.05, "lr": 0.01, "images_per_s": 100.0}
        {"epoch": 2, "train_loss": 2.0, "test_loss": 1.9, "test_accuracy": 40, "seconds": 1.0, "at_step": 3}
        """

    @Test func theMetricsFileReadBack() throws {
        let log = try MetricsLog.parse(Self.sample, file: "m.jsonl")
        #expect(log.steps.map(\.step) == [1, 2, 3])
        // Step 2 appears twice (a resumed run): the later record wins.
        #expect(log.steps[1].loss == 2.05 && log.steps[1].line == 6)
        #expect(log.steps[2].loss == nil)
        #expect(log.steps[0].milliseconds?[.halo] == 2 && log.steps[1].milliseconds == nil)
        // Epoch 1 has no at_step (an older file): its last step record.
        #expect(log.epochs.map(\.atStep) == [2, 3])
        #expect(log.epochs.map(\.testAccuracy) == [30.5, 40])
    }

    @Test(arguments: [
        ("", "m.jsonl: no step records"),
        ("{\"epoch\": 1, \"test_loss\": 1}\n", "m.jsonl: no step records"),
        ("step,loss\n1,2.3\n", "m.jsonl line 1: not JSON ('step,loss')"),
        ("[1, 2]\n", "m.jsonl line 1: not a JSON object"),
        ("{\"step\": 1, \"epoch\": 1, \"loss\": 2}\n\n{\"step\": 2, \"epoch\": 1, \"loss\": \"x\"}", "m.jsonl line 3, field 'loss': not a number (x)"),
        ("{\"step\": 1.5, \"epoch\": 1, \"loss\": 2}", "m.jsonl line 1, field 'step': is 1.5; it must be a whole number of at least 1"),
        ("{\"step\": 1, \"loss\": 2}", "m.jsonl line 1, field 'epoch': missing"),
        ("{\"step\": 1, \"epoch\": 1, \"loss\": 2, \"time_ms\": {\"halo\": -1}}", "m.jsonl line 1, field 'time_ms.halo': is -1.0; a time cannot be negative"),
        ("{\"step\": 1, \"epoch\": 1, \"loss\": 2, \"time_ms\": 3}", "m.jsonl line 1, field 'time_ms': not an object"),
        ("{\"step\": 1, \"epoch\": 1, \"loss\": 2}\n{\"epoch\": 1, \"test_loss\": [1]}", "m.jsonl line 2, field 'test_loss': not a number"),
        ("{\"step\": 1, \"epoch\": 1, \"loss\": -1.7e308}", "m.jsonl line 1, field 'loss': is -1.7e+308; too large to plot"),
    ])
    func aMalformedFileIsNamedByLineAndField(text: String, message: String) {
        do {
            _ = try MetricsLog.parse(text, file: "m.jsonl")
            Issue.record("no error for \(text)")
        } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }

    /// Mutated files (bytes replaced, inserted, deleted; digits and signs favoured so that
    /// numbers go out of range) are read or refused with a `MetricsLogError`, and whatever
    /// is read draws: never a trap.
    @Test func mutatedFilesAreReadOrRefusedNeverATrap() {
        var random = SplitMix64(seed: 7)
        let alphabet = Array("0123456789-+.eE,:{}[]\" \nnull".utf8)
        var drawn = 0, refused = 0
        for _ in 0..<1500 {
            var bytes = Array(Self.sample.utf8)
            for _ in 0..<(1 + Int(random.next() % 6)) {
                let at = Int(random.next() % UInt64(bytes.count))
                let byte = random.next() % 4 == 0 ? UInt8(truncatingIfNeeded: random.next()) : alphabet[Int(random.next() % UInt64(alphabet.count))]
                switch random.next() % 3 {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: if bytes.count > 1 { bytes.remove(at: at) }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let log = try MetricsLog.parse(text, file: "m.jsonl")
                #expect(CurvesChart(log, title: "t").svg().hasSuffix("</svg>\n"))
                drawn += 1
            } catch is MetricsLogError {
                refused += 1
            } catch {
                Issue.record("\(error) is not a MetricsLogError")
            }
        }
        #expect(drawn > 100 && refused > 100, "\(drawn) drawn, \(refused) refused")
    }

    @Test func aMissingFile() {
        #expect(throws: MetricsLogError(file: "/no/such.jsonl", problem: "cannot read the file")) {
            try MetricsLog.read("/no/such.jsonl")
        }
    }

    // MARK: Time groups

    @Test func stepTimerCategoriesFallIntoTheirGroups() {
        let expected: [String: TimeBreakdown.Group] = [
            "data": .data, "allreduce wait": .allreduce, "halo/layout exchange": .halo,
            "reverse halo/layout exchange": .halo, "partial-sum reduction": .halo, "partial-sum gradient copy": .halo,
            "output recovery": .halo, "Convolution forward": .compute, "MaxPooling backward": .compute,
            "optimizer": .compute, "check": .compute, "layout reorder": .compute,
        ]
        for (category, group) in expected { #expect(TimeBreakdown.group(of: category) == group, "\(category)") }
    }

    @Test func waitingIsTheWallTimeNoCategoryCovers() {
        let before = ["data": 1.0, "Convolution forward": 2.0, "halo/layout exchange": 0.5]
        let after = ["data": 1.25, "Convolution forward": 2.5, "Linear forward": 0.25, "halo/layout exchange": 0.75,
                     "allreduce wait": 0.125]
        let t = TimeBreakdown(before: before, after: after, wall: 1.5)
        #expect(t.seconds == [.data: 0.25, .compute: 0.75, .halo: 0.25, .allreduce: 0.125, .waiting: 0.125])
        // A wall time shorter than the categories (clock granularity) leaves waiting at 0.
        #expect(TimeBreakdown(before: [:], after: ["data": 1], wall: 0.5).seconds[.waiting] == 0)
    }

    // MARK: Progress

    static func progress(step: Int) -> StepProgress {
        StepProgress(epoch: 1, epochs: 2, step: step, stepsInEpoch: 937, meanLoss: 0.51234, imagesPerSecond: 5848.4,
                     secondsLeft: 75.4)
    }

    @Test func theLiveLineSaysStepLossSpeedAndETA() {
        #expect(Self.progress(step: 312).text == "epoch 1/2  step 312/937  loss 0.5123  5848 images/s  ETA 1:15")
        #expect(StepProgress.clock(3725) == "1:02:05" && StepProgress.clock(.nan) == "-:--" && StepProgress.clock(0.4) == "0:00")
    }

    @Test func liveRedrawsAtMostFourTimesASecondThenTheSummaryReplacesIt() {
        var now = 0.0
        var out = ""
        let d = ProgressDisplay(mode: .live, clock: { now }) { out += $0 }
        d.info("opening")
        for (k, t) in [0.0, 0.1, 0.2, 0.26, 0.3, 0.6].enumerated() {
            now = t
            d.step(Self.progress(step: k + 1))
        }
        d.epoch("epoch 1/2  done")
        now = 0.61
        d.step(Self.progress(step: 1))  // the next epoch's first step draws at once
        let cl = ProgressDisplay.clearLine
        #expect(out == "opening\n" + cl + Self.progress(step: 1).text + cl + Self.progress(step: 4).text
            + cl + Self.progress(step: 6).text + cl + "epoch 1/2  done\n" + cl + Self.progress(step: 1).text)
    }

    @Test func plainAndQuiet() {
        var plain = "", quiet = ""
        for (mode, sink) in [(ProgressDisplay.Mode.plain, { (s: String) in plain += s }), (.quiet, { quiet += $0 })] {
            let d = ProgressDisplay(mode: mode, clock: { 0 }, write: sink)
            d.info("opening")
            d.step(Self.progress(step: 1))
            d.epoch("epoch 1/2")
            d.epoch("epoch 2/2")
            d.info("memory")
            d.finish()
        }
        #expect(plain == "opening\nepoch 1/2\nepoch 2/2\nmemory\n")
        #expect(quiet == "epoch 2/2\n")
    }
}

/// A long run's steps drawn as means of consecutive steps, one point per pixel at most.
@Suite struct CurvesChartTests {
    @Test func longRunsAreBinnedIntoMeans() throws {
        let steps = (1...2000).map { k in
            MetricsLog.Step(step: k, epoch: 1, loss: k == 4 ? nil : Double(k), milliseconds: k > 3 ? [.compute: Double(k), .halo: 1] : nil,
                            line: k)
        }
        let log = MetricsLog(steps: steps, epochs: [], file: "m.jsonl")
        let chart = CurvesChart(log, title: "t")
        #expect(chart.stepsPerPoint == 5 && chart.points.count == 400)
        // Steps 1-3 have no time, 4 no loss: the loss is the mean of 1, 2, 3 and 5, the
        // time that of steps 4 and 5.
        #expect(chart.points[0] == .init(first: 1, last: 5, step: 3, loss: 2.75,
                                         milliseconds: [.compute: 4.5, .halo: 1, .allreduce: 0, .data: 0, .waiting: 0]))
        #expect(chart.points[1] == .init(first: 6, last: 10, step: 8, loss: 8, milliseconds: [.compute: 8, .halo: 1, .allreduce: 0, .data: 0, .waiting: 0]))
        #expect(chart.points[399].first == 1996 && chart.points[399].last == 2000 && chart.points[399].step == 1998)
        let svg = chart.svg()
        #expect(svg.contains("id=\"train-loss\" class=\"curve\" data-axis=\"y\" data-steps-per-point=\"5\""))
        #expect(svg.contains("train loss per 5 steps"))
        // A short run keeps every step.
        let short = CurvesChart(MetricsLog(steps: Array(steps.prefix(400)), epochs: [], file: "m.jsonl"), title: "t")
        #expect(short.stepsPerPoint == 1 && short.points.count == 400)
    }
}
