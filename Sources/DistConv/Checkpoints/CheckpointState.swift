import Foundation

/// `state.json` of a checkpoint: what the run was and where it stood, so that a resumed
/// run continues it exactly (the step, the epoch and the position in its shuffled
/// order, the optimizer and schedule) and a mismatched model is refused.
public struct CheckpointState: Codable, Sendable, Equatable {
    public static let formatName = "distconv-checkpoint"
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    public var model: String
    /// `Model.descriptionHash`: changes with any op, parameter name or shape.
    public var modelHash: String
    /// Optimizer steps taken.
    public var step: Int
    /// The epoch the next step belongs to (0-based) and its position in that epoch.
    public var epoch: Int
    public var stepInEpoch: Int
    public var seed: UInt64
    public var batch: Int
    public var optimizer: OptimizerSettings
    public var schedule: String
    public var warmupSteps: Int
    /// The job that wrote it.
    public var ranks: Int
    public var grids: [String: [Int]]

    enum CodingKeys: String, CodingKey {
        case format, version, model, modelHash = "model_hash", step, epoch, stepInEpoch = "step_in_epoch", seed, batch
        case optimizer, schedule, warmupSteps = "warmup_steps", ranks, grids
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
}

extension CheckpointState {
    /// Reads `state.json`'s bytes; `file` names it in errors. Refuses another format or
    /// version, and counters no run can have (negative, or past 2^48), which the resumed run
    /// would compute with.
    public init(json: Data, file: String) throws(CheckpointError) {
        do {
            self = try JSONDecoder().decode(CheckpointState.self, from: json)
        } catch {
            let detail = (error as? DecodingError).map { e in (e.fieldPath.map { "field '\($0)': " } ?? "") + e.summary }
            throw CheckpointError(file: file, "not a distconv checkpoint state: \(detail ?? "not valid JSON")")
        }
        guard format == Self.formatName, version == Self.currentVersion else {
            throw CheckpointError(
                file: file,
                "format '\(format.prefix(80))' version \(version); this distconv reads '\(Self.formatName)' version \(Self.currentVersion)")
        }
        let limit = 1 << 48
        for (field, value, least) in [
            ("step", step, 0), ("epoch", epoch, 0), ("step_in_epoch", stepInEpoch, 0),
            ("warmup_steps", warmupSteps, 0), ("batch", batch, 1), ("ranks", ranks, 1),
        ] where value < least || value > limit {
            throw CheckpointError(file: file, "field '\(field)' is \(value), expected \(least) to 2^48")
        }
        if let (op, grid) = grids.first(where: { !$0.value.allSatisfy { (1...limit).contains($0) } }) {
            throw CheckpointError(file: file, "field 'grids.\(op.prefix(80))' is \(grid), expected entries from 1 to 2^48")
        }
    }
}

extension Model {
    /// FNV-1a of what decides the parameters and the function: every op's name, type,
    /// output shape past the batch, parameter names and shapes. Not the grids or the batch:
    /// a checkpoint resumes on any rank count and batch.
    public var descriptionHash: String {
        var text = name
        for op in ops {
            text += "|\(op.name):\(op.kind.typeName):\(op.outputShape.dropFirst().map(String.init).joined(separator: "x"))"
            for p in op.parameters { text += ":\(p)=\(tensor(p).shape.map(String.init).joined(separator: "x"))" }
        }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return String(h, radix: 16)
    }
}
