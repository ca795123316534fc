import Foundation

/// Reads a machine profile (`MachineProfile`'s JSON) from a file and checks what the
/// cost model relies on: the format and version, at least one rank per node, and
/// latencies, bandwidths and kernel times that are finite and not negative. Every
/// problem is a `ProfileError` naming the file and the field.
public enum ProfileFile {
    public static func load(path: String) throws -> MachineProfile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ProfileError(file: path, field: nil, "cannot be read (\((error as NSError).localizedDescription))")
        }
        return try decode(data, source: path)
    }

    public static func decode(_ data: Data, source: String) throws -> MachineProfile {
        if let header = try? JSONDecoder().decode(Header.self, from: data) {
            if let format = header.format, format != MachineProfile.format {
                throw ProfileError(file: source, field: "format", "is \"\(format)\", expected \"\(MachineProfile.format)\"")
            }
            if let version = header.version, version != 1 {
                throw ProfileError(file: source, field: "version", "is \(version); this distconv reads version 1 (run distconv calibrate again)")
            }
        }
        let profile: MachineProfile
        do { profile = try JSONDecoder().decode(MachineProfile.self, from: data) } catch let e as DecodingError {
            throw ProfileError(file: source, field: e.fieldPath, e.summary)
        } catch {
            throw ProfileError(file: source, field: nil, "is not JSON (\(error.localizedDescription))")
        }
        guard profile.ranksPerNode >= 1 else {
            throw ProfileError(file: source, field: "ranks_per_node", "is \(profile.ranksPerNode); it must be at least 1")
        }
        for (name, link) in [("copy", profile.copy), ("intra_node", profile.intraNode), ("inter_node", profile.interNode)] {
            for (part, value) in [("alpha", link.alpha), ("beta", link.beta)] where !(value.isFinite && value >= 0) {
                throw ProfileError(file: source, field: "\(name).\(part)", "is \(value); it must be a finite number, at least 0")
            }
        }
        for (i, k) in profile.kernels.enumerated() where !(k.seconds.isFinite && k.seconds >= 0) {
            throw ProfileError(file: source, field: "kernels.\(i).seconds", "is \(k.seconds); it must be a finite number, at least 0")
        }
        return profile
    }

    private struct Header: Decodable {
        var format: String?
        var version: Int?
    }
}

/// A machine profile that cannot be used: `file: field: problem`, one line.
public struct ProfileError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var field: String?
    public var problem: String

    public init(file: String, field: String?, _ problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(file): " + (field.map { "\($0): " } ?? "") + problem }
}
