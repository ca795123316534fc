import Foundation

/// A profile file that cannot be used: one line naming the file, the field and the problem.
public struct MachineProfileError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var field: String
    public var problem: String

    public init(file: String, field: String, _ problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(file): \(field): \(problem)".errorLine() }
}

extension MachineProfile {
    /// Reads and checks a profile written by `distconv calibrate` (or by hand).
    public static func load(path: String) throws(MachineProfileError) -> MachineProfile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw MachineProfileError(file: path, field: "file", reason)
        }
        return try decode(data, file: path)
    }

    /// Decodes and checks the JSON of a profile; `file` names it in errors.
    public static func decode(_ data: Data, file: String) throws(MachineProfileError) -> MachineProfile {
        // The format and version first, so another file gets that answer, not a missing field.
        if let head = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            guard head["format"] as? String == format else {
                throw MachineProfileError(file: file, field: "format",
                                          "is \(head["format"].map { "'\($0)'" } ?? "missing"), expected '\(format)' (write one with 'distconv calibrate')")
            }
            guard head["version"] as? Int == 1 else {
                throw MachineProfileError(file: file, field: "version",
                                          "is \(head["version"].map { "\($0)" } ?? "missing"), this distconv reads version 1 (calibrate again)")
            }
        }
        let profile: MachineProfile
        do {
            profile = try JSONDecoder().decode(MachineProfile.self, from: data)
        } catch let error as DecodingError {
            throw MachineProfileError(file: file, field: error.fieldPath ?? "(top level)", error.summary)
        } catch {
            throw MachineProfileError(file: file, field: "(top level)", "\(error)")
        }
        try profile.check(file: file)
        return profile
    }

    /// Sizes and times that the lookup can use: positive, finite.
    func check(file: String) throws(MachineProfileError) {
        guard ranksPerNode >= 1 else {
            throw MachineProfileError(file: file, field: "ranks_per_node", "is \(ranksPerNode), must be at least 1")
        }
        guard threadsPerRank >= 1 else {
            throw MachineProfileError(file: file, field: "threads_per_rank", "is \(threadsPerRank), must be at least 1")
        }
        for (name, link) in [("copy", copy), ("intra_node", intraNode), ("inter_node", interNode)] {
            for (part, v) in [("alpha", link.alpha), ("beta", link.beta)] where !(v.isFinite && v >= 0) {
                throw MachineProfileError(file: file, field: "\(name).\(part)", "is \(v), must be a finite number >= 0 (seconds)")
            }
        }
        if let v = synchronisationSeconds, !(v.isFinite && v >= 0) {
            throw MachineProfileError(file: file, field: "synchronisation", "is \(v), must be a finite number >= 0 (seconds)")
        }
        for (i, s) in kernels.enumerated() {
            guard s.seconds.isFinite && s.seconds > 0 else {
                throw MachineProfileError(file: file, field: "kernels.\(i).seconds", "is \(s.seconds), must be a finite number > 0")
            }
            for (name, shape) in [("input", s.work.input), ("output", s.work.output)] where shape.contains(where: { $0 < 1 }) {
                throw MachineProfileError(file: file, field: "kernels.\(i).\(name)", "\(shape) has a size below 1")
            }
            guard s.work.output.count >= 1 else {
                throw MachineProfileError(file: file, field: "kernels.\(i).output", "is empty")
            }
            guard s.work.block >= 1, s.work.groups >= 1 else {
                throw MachineProfileError(file: file, field: "kernels.\(i).\(s.work.block < 1 ? "block" : "groups")",
                                          "must be at least 1")
            }
        }
    }

    /// The profile as JSON: one kernel sample per line, so files diff well.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json<V: Encodable>(_ v: V) -> String {
            (try? encoder.encode(v)).flatMap { String(data: $0, encoding: .utf8) } ?? "null"
        }
        var lines = ["{\"format\": \(json(format)), \"version\": \(version), \"machine\": \(json(machine)),",
                     " \"ranks_per_node\": \(ranksPerNode), \"threads_per_rank\": \(threadsPerRank),",
                     " \"copy\": \(json(copy)), \"intra_node\": \(json(intraNode)), \"inter_node\": \(json(interNode)),"]
        if let synchronisationSeconds { lines.append(" \"synchronisation\": \(json(synchronisationSeconds)),") }
        lines.append(" \"kernels\": [")
        lines += kernels.enumerated().map { i, s in "  " + json(s) + (i + 1 < kernels.count ? "," : "") }
        lines.append("]}")
        return Data((lines.joined(separator: "\n") + "\n").utf8)
    }
}
