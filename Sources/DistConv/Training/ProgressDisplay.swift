/// Rank 0's output while training, in one of three forms:
///
/// - `live` (stdout is a terminal): one line per epoch redrawn in place (carriage return,
///   then ANSI erase-line) with `StepProgress`'s fields at most every `interval`
///   seconds, and finished by the epoch's summary line;
/// - `plain` (stdout is a file or a pipe): the opening lines and one line per epoch, no
///   control characters;
/// - `quiet` (`--quiet`): nothing but the last epoch's summary line, at `finish()`.
///
/// `write` receives the text exactly as it should reach stdout (newlines included).
public final class ProgressDisplay {
    public enum Mode: String, Sendable { case live, plain, quiet }

    /// The shortest time between two redraws of the live line (at most four a second).
    public static let interval = 0.25

    public let mode: Mode
    let write: (String) -> Void
    let clock: () -> Double
    /// When the live line was last drawn; nil when no live line is showing.
    private var drawnAt: Double?
    private var lastEpochLine: String?

    public init(mode: Mode, clock: @escaping () -> Double = StepTimer.now, write: @escaping (String) -> Void) {
        self.mode = mode
        self.clock = clock
        self.write = write
    }

    /// Erases the line in place (carriage return, ANSI erase to end of line).
    public static let clearLine = "\r\u{1B}[K"

    /// A line that is not about an epoch (what the run is, memory); left out by `quiet`.
    public func info(_ line: String) {
        switch mode {
        case .quiet: return
        case .plain: write(line + "\n")
        case .live:
            write((drawnAt == nil ? "" : Self.clearLine) + line + "\n")
            drawnAt = nil
        }
    }

    /// After each step: redraws the live line when `interval` has passed since the last
    /// redraw (the first step of an epoch always draws); nothing in the other modes.
    public func step(_ progress: StepProgress) {
        guard mode == .live else { return }
        let now = clock()
        if let drawnAt, now - drawnAt < Self.interval { return }
        write(Self.clearLine + progress.text)
        drawnAt = now
    }

    /// An epoch's summary line: replaces the live line, or is printed (`plain`), or kept
    /// for `finish()` (`quiet`).
    public func epoch(_ line: String) {
        lastEpochLine = line
        if mode == .quiet { return }
        info(line)
    }

    /// The end of training: `quiet` prints its one line (the last epoch's summary).
    public func finish() {
        if mode == .quiet, let lastEpochLine { write(lastEpochLine + "\n") }
    }
}
