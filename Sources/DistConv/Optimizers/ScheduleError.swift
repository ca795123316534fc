/// A `--schedule` text that names no schedule. Users cause these (a flag), so they are
/// thrown; the description is one line naming the flag, the text and the problem.
public enum ScheduleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not constant, step or cosine (e.g. "linear", "").
    case unknownKind(text: String)
    /// A known kind with the wrong number of `:` fields ("step", "cosine:10").
    case wrongFieldCount(text: String, kind: String)
    /// The SIZE of `step:SIZE` is not a whole number >= 1 ("step:0", "step:x").
    case invalidStepSize(text: String, size: String)
    /// The GAMMA of `step:SIZE:GAMMA` is not a positive finite number ("step:10:-1").
    case invalidGamma(text: String, gamma: String)

    public var description: String {
        switch self {
        case let .unknownKind(text):
            return "--schedule is '\(text)'; it must be constant, step:SIZE, step:SIZE:GAMMA or cosine"
        case let .wrongFieldCount(text, kind):
            let form = kind == "step" ? "step:SIZE or step:SIZE:GAMMA" : "just '\(kind)', with no parameters"
            return "--schedule is '\(text)'; \(kind) is written \(form)"
        case let .invalidStepSize(text, size):
            return "--schedule is '\(text)'; the step size '\(size)' must be a whole number of optimizer steps >= 1"
        case let .invalidGamma(text, gamma):
            return "--schedule is '\(text)'; the gamma '\(gamma)' must be a positive number"
        }
    }
}
