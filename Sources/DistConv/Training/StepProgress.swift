import Foundation

/// Where rank 0 is within an epoch, after a step: what the live progress line shows.
public struct StepProgress: Sendable, Equatable {
    /// 1-based, of `epochs`.
    public var epoch: Int
    public var epochs: Int
    /// Steps of this epoch done (1-based), of `stepsInEpoch`.
    public var step: Int
    public var stepsInEpoch: Int
    /// The mean loss of this epoch's steps so far (what the epoch's line reports as its
    /// train loss when the epoch ends).
    public var meanLoss: Double
    /// Training images per second over this epoch's steps so far.
    public var imagesPerSecond: Double
    /// The rest of the epoch's steps at this epoch's pace so far (its test not counted).
    public var secondsLeft: Double

    public init(epoch: Int, epochs: Int, step: Int, stepsInEpoch: Int, meanLoss: Double, imagesPerSecond: Double,
                secondsLeft: Double) {
        self.epoch = epoch
        self.epochs = epochs
        self.step = step
        self.stepsInEpoch = stepsInEpoch
        self.meanLoss = meanLoss
        self.imagesPerSecond = imagesPerSecond
        self.secondsLeft = secondsLeft
    }

    /// `epoch 1/2  step 312/937  loss 0.5123  5848 images/s  ETA 0:06`.
    public var text: String {
        String(format: "epoch %d/%d  step %d/%d  loss %.4f  %.0f images/s  ETA ", epoch, epochs, step, stepsInEpoch,
               meanLoss, imagesPerSecond) + Self.clock(secondsLeft)
    }

    /// `m:ss`, or `h:mm:ss` from an hour; `-:--` when not known (no step timed yet).
    public static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-:--" }
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
