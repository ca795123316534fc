import Foundation

/// The learning rate of every optimizer step: an optional linear warm-up, then a constant
/// rate, step decay or cosine annealing. A pure function of the step index, so a resumed
/// run needs only its step count.
///
/// With base rate `b`, `W = warmupSteps` and the 0-based step index `s`:
/// - warm-up, `s < W`: `b * (s + 1) / W`, reaching `b` on step `W - 1`
///   (torch's `LambdaLR(lambda s: (s + 1) / W)` in a `SequentialLR` with milestone `W`).
/// - afterwards, with `u = s - W` and `T = max(1, totalSteps - W)`:
///   - constant: `b`.
///   - step: `b * gamma^(u / stepSize)`, integer division: `StepLR(step_size, gamma)`,
///     stepped once per optimizer step (not per epoch).
///   - cosine: `eta_min + (b - eta_min) * (1 + cos(pi * min(u, T) / T)) / 2`, the closed
///     form of `CosineAnnealingLR(T_max=T, eta_min)`. Past `T` it stays at `eta_min`,
///     where torch's would rise again along the next half period.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case constant, step, cosine }

    public var kind: Kind
    public var baseRate: Double
    /// Steps of linear warm-up before `kind` takes over; 0 for none.
    public var warmupSteps: Int = 0
    /// step kind: decay every `stepSize` optimizer steps (torch StepLR stepped per
    /// optimizer step). At least 1.
    public var stepSize: Int = 1
    /// step kind: the factor of each decay.
    public var gamma: Double = 0.1
    /// cosine: `T_max`, counted over the whole run including the warm-up.
    public var totalSteps: Int = 1
    /// cosine: `eta_min`, the rate at the end.
    public var minimumRate: Double = 0

    public init(
        kind: Kind, baseRate: Double, warmupSteps: Int = 0, stepSize: Int = 1, gamma: Double = 0.1,
        totalSteps: Int = 1, minimumRate: Double = 0
    ) {
        self.kind = kind
        self.baseRate = baseRate
        self.warmupSteps = warmupSteps
        self.stepSize = stepSize
        self.gamma = gamma
        self.totalSteps = totalSteps
        self.minimumRate = minimumRate
    }

    /// The rate of the optimizer step with 0-based index `s` (the formulas above).
    public func rate(atStep s: Int) -> Double {
        precondition(s >= 0, "learning rate of step \(s); steps count from 0")
        precondition(
            warmupSteps >= 0 && stepSize >= 1, "schedule: warmupSteps \(warmupSteps), stepSize \(stepSize)")
        if s < warmupSteps { return baseRate * Double(s + 1) / Double(warmupSteps) }
        let u = s - warmupSteps
        switch kind {
        case .constant:
            return baseRate
        case .step:
            return baseRate * pow(gamma, Double(u / stepSize))
        case .cosine:
            let t = max(1, totalSteps - warmupSteps)
            return minimumRate + (baseRate - minimumRate) * (1 + cos(Double.pi * Double(min(u, t)) / Double(t))) / 2
        }
    }

    /// Parses the CLI's `--schedule` text: "constant", "step:SIZE" or "step:SIZE:GAMMA"
    /// (gamma 0.1 when omitted), "cosine" (down to rate 0). Warm-up and the step count
    /// come from their own flags.
    public static func parse(
        _ text: String, baseRate: Double, warmupSteps: Int, totalSteps: Int
    ) throws(ScheduleError) -> LearningRateSchedule {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var schedule = LearningRateSchedule(
            kind: .constant, baseRate: baseRate, warmupSteps: warmupSteps, totalSteps: totalSteps)
        switch fields[0] {
        case "constant", "cosine":
            guard fields.count == 1 else { throw .wrongFieldCount(text: text, kind: fields[0]) }
            schedule.kind = fields[0] == "cosine" ? .cosine : .constant
        case "step":
            guard fields.count == 2 || fields.count == 3 else { throw .wrongFieldCount(text: text, kind: "step") }
            guard let size = Int(fields[1]), size >= 1 else { throw .invalidStepSize(text: text, size: fields[1]) }
            schedule.kind = .step
            schedule.stepSize = size
            if fields.count == 3 {
                guard let gamma = Double(fields[2]), gamma.isFinite, gamma > 0 else {
                    throw .invalidGamma(text: text, gamma: fields[2])
                }
                schedule.gamma = gamma
            }
        default:
            throw .unknownKind(text: text)
        }
        return schedule
    }
}
