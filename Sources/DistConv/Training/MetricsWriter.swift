import Foundation

/// `--metrics FILE`: JSON lines, one per step
/// `{"step", "epoch", "loss", "lr", "images_per_s"}` and one per epoch
/// `{"epoch", "train_loss", "test_loss", "test_accuracy", "seconds"}` (accuracy in
/// percent). Losses carry every digit of a Double, so runs can be compared exactly.
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

    func step(step: Int, epoch: Int, loss: Double, rate: Double, imagesPerSecond: Double) {
        write("{\"step\": \(step), \"epoch\": \(epoch), \"loss\": \(loss), \"lr\": \(rate), \"images_per_s\": \(String(format: "%.1f", imagesPerSecond))}")
    }

    func epoch(_ s: EpochSummary) {
        write("{\"epoch\": \(s.epoch), \"train_loss\": \(s.trainLoss), \"test_loss\": \(s.testLoss), \"test_accuracy\": \(s.testAccuracy), \"seconds\": \(String(format: "%.3f", s.seconds))}")
    }
}
