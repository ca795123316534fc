import Foundation

/// A `--metrics` file read back: its step records and epoch records (the formats of
/// `MetricsWriter`). Blank lines are skipped, and so are JSON objects that are neither
/// kind (room for records a later version adds). A step repeated (a run resumed from a
/// checkpoint older than its last steps appends them again) keeps its last record, the
/// one the continuing run wrote; likewise an epoch.
public struct MetricsLog: Sendable {
    public struct Step: Sendable, Equatable {
        public var step: Int
        public var epoch: Int
        /// Nil where the loss was not finite (written `null`).
        public var loss: Double?
        /// Milliseconds per group; nil in files written before the breakdown existed.
        public var milliseconds: [TimeBreakdown.Group: Double]?
        /// The 1-based line of the file.
        public var line: Int
    }

    public struct Epoch: Sendable, Equatable {
        public var epoch: Int
        /// The step count when its test ran (from `at_step`, else its last step record).
        public var atStep: Int
        public var trainLoss: Double?
        public var testLoss: Double?
        /// Percent.
        public var testAccuracy: Double?
        public var line: Int
    }

    /// In step order.
    public var steps: [Step]
    /// In epoch order.
    public var epochs: [Epoch]
    public var file: String

    /// Reads and checks `path`.
    public static func read(_ path: String) throws -> MetricsLog {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MetricsLogError(file: path, problem: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MetricsLogError(file: path, problem: "not UTF-8 text, so not JSON lines")
        }
        return try parse(text, file: path)
    }

    /// Parses JSON lines; `file` names them in errors.
    public static func parse(_ text: String, file: String) throws -> MetricsLog {
        var steps: [Int: Step] = [:]
        var epochs: [Int: Epoch] = [:]
        var epochAt: [Int: Int] = [:]
        for (k, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = k + 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let object: [String: Any]
            do {
                guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw MetricsLogError(file: file, line: number, problem: "not a JSON object")
                }
                object = o
            } catch let error as MetricsLogError {
                throw error
            } catch {
                throw MetricsLogError(file: file, line: number, problem: "not JSON (\(Self.preview(line)))")
            }
            let fields = Fields(object: object, file: file, line: number)
            if object["step"] != nil {
                let step = try fields.integer("step")
                var time: [TimeBreakdown.Group: Double]?
                if let t = object["time_ms"], !(t is NSNull) {
                    guard let groups = t as? [String: Any] else {
                        throw MetricsLogError(file: file, line: number, field: "time_ms", problem: "not an object")
                    }
                    let inner = Fields(object: groups, file: file, line: number, prefix: "time_ms.")
                    var ms: [TimeBreakdown.Group: Double] = [:]
                    for g in TimeBreakdown.Group.allCases {
                        guard let v = try inner.number(g.rawValue, required: false) else { continue }
                        guard v >= 0 else {
                            throw MetricsLogError(file: file, line: number, field: "time_ms.\(g.rawValue)", problem: "is \(v); a time cannot be negative")
                        }
                        ms[g] = v
                    }
                    time = ms
                }
                steps[step] = Step(step: step, epoch: try fields.integer("epoch"), loss: try fields.number("loss"),
                                   milliseconds: time, line: number)
            } else if object["epoch"] != nil, object["test_loss"] != nil || object["train_loss"] != nil {
                let epoch = try fields.integer("epoch")
                epochAt[epoch] = object["at_step"] == nil ? nil : try fields.integer("at_step", least: 0)
                epochs[epoch] = Epoch(epoch: epoch, atStep: 0, trainLoss: try fields.number("train_loss", required: false),
                                      testLoss: try fields.number("test_loss", required: false),
                                      testAccuracy: try fields.number("test_accuracy", required: false), line: number)
            }
        }
        guard !steps.isEmpty else {
            throw MetricsLogError(file: file, problem: "no step records (lines with \"step\" and \"loss\", as train --metrics writes)")
        }
        let orderedSteps = steps.values.sorted { $0.step < $1.step }
        var orderedEpochs = epochs.values.sorted { $0.epoch < $1.epoch }
        for k in orderedEpochs.indices {
            let e = orderedEpochs[k].epoch
            // Files from before `at_step`: the epoch's last step record.
            orderedEpochs[k].atStep = epochAt[e] ?? orderedSteps.last { $0.epoch == e }?.step ?? 0
        }
        return MetricsLog(steps: orderedSteps, epochs: orderedEpochs, file: file)
    }

    static func preview(_ line: String) -> String {
        line.count <= 40 ? "'\(line)'" : "'\(line.prefix(40))...'"
    }
}

/// One record's fields, read with the checks a metrics line needs.
private struct Fields {
    let object: [String: Any]
    let file: String
    let line: Int
    var prefix = ""

    /// A number, or nil for `null` (a value that was not finite) or, unless `required`,
    /// a missing field.
    func number(_ name: String, required: Bool = true) throws -> Double? {
        guard let value = object[name] else {
            if required { throw MetricsLogError(file: file, line: line, field: prefix + name, problem: "missing") }
            return nil
        }
        if value is NSNull { return nil }
        guard let n = value as? NSNumber, !(value is String), n.doubleValue.isFinite else {
            throw MetricsLogError(file: file, line: line, field: prefix + name, problem: "not a number (\(value))")
        }
        // Past this, a difference of two values could overflow the axes' arithmetic.
        guard abs(n.doubleValue) < 1e100 else {
            throw MetricsLogError(file: file, line: line, field: prefix + name, problem: "is \(n.doubleValue); too large to plot")
        }
        return n.doubleValue
    }

    /// A whole number of at least `least`.
    func integer(_ name: String, least: Int = 1) throws -> Int {
        guard let v = try number(name) else {
            throw MetricsLogError(file: file, line: line, field: prefix + name, problem: "null; it must be a whole number")
        }
        guard v == v.rounded(), v >= Double(least), v < 1e15 else {
            throw MetricsLogError(file: file, line: line, field: prefix + name, problem: "is \(v); it must be a whole number of at least \(least)")
        }
        return Int(v)
    }
}

/// A metrics file `distconv report` cannot draw: one line naming the file, the line
/// number and the field where there is one.
public struct MetricsLogError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var field: String?
    public var problem: String

    public init(file: String, line: Int? = nil, field: String? = nil, problem: String) {
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
    }

    public var description: String {
        var s = file
        if let line { s += " line \(line)" }
        if let field { s += ", field '\(field)'" }
        return s + ": " + problem
    }
}
