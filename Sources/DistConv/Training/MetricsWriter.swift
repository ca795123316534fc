import Foundation

/// `--metrics FILE`: JSON lines, one per step
/// `{"step", "epoch", "loss", "lr", "images_per_s", "step_ms", "time_ms"}` and one per
/// epoch `{"epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "at_step"}`
/// (accuracy in percent). `time_ms` is rank 0's step time in milliseconds per group of
/// `TimeBreakdown` (`compute`, `halo`, `allreduce`, `data`, `waiting`; they add up to
/// `step_ms`); `at_step` is the step count when the epoch's test ran. Losses carry every
/// digit of a Double, so runs can be compared exactly; a value that is not finite is
/// written `null` (JSON has no NaN), so the line stays readable.
final class MetricsWriter {
    let handle: FileHandle
    let path: String

    /// A new file, or with `append` (a resumed run) the end of an existing one, so the
    /// curves of a run and its continuation are one file.
    init(path: String, append: Bool = false) throws {
        self.path = path
        let exists = FileManager.default.fileExists(atPath: path)
        if !(append && exists) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw TrainingError.flag("--metrics", "\(path): cannot create the file")
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw TrainingError.flag("--metrics", "\(path): cannot open the file for writing")
        }
        if append { h.seekToEndOfFile() }
        handle = h
    }

    deinit { try? handle.close() }

    func write(_ line: String) {
        handle.write(Data((line + "\n").utf8))
    }

    func step(step: Int, epoch: Int, loss: Double, rate: Double, imagesPerSecond: Double, time: TimeBreakdown) {
        let groups = TimeBreakdown.Group.allCases.map { "\"\($0.rawValue)\": \(Self.number(1000 * (time.seconds[$0] ?? 0), "%.4f"))" }
        write("{\"step\": \(step), \"epoch\": \(epoch), \"loss\": \(Self.number(loss)), \"lr\": \(Self.number(rate)), "
            + "\"images_per_s\": \(Self.number(imagesPerSecond, "%.1f")), \"step_ms\": \(Self.number(1000 * time.wall, "%.4f")), "
            + "\"time_ms\": {\(groups.joined(separator: ", "))}}")
    }

    func epoch(_ s: EpochSummary, atStep: Int) {
        write("{\"epoch\": \(s.epoch), \"train_loss\": \(Self.number(s.trainLoss)), \"test_loss\": \(Self.number(s.testLoss)), "
            + "\"test_accuracy\": \(Self.number(s.testAccuracy)), \"seconds\": \(Self.number(s.seconds, "%.3f")), \"at_step\": \(atStep)}")
    }

    /// A JSON number: every digit, or `format`'s; `null` when not finite.
    static func number(_ x: Double, _ format: String? = nil) -> String {
        guard x.isFinite else { return "null" }
        return format.map { String(format: $0, x) } ?? "\(x)"
    }
}
