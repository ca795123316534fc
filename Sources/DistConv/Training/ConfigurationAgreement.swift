import Comm
import Foundation

/// One field of a rank's configuration: a flag (`--lr`), the model's description, the
/// grids, the data set's identity. Compared across ranks before any data moves.
public struct ConfigurationField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Two ranks started with different configurations: one line naming the first field
/// that differs, e.g. `ranks 0 and 1 disagree on --lr (0.1 vs 0.2)`.
public struct ConfigurationMismatch: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var ranks: (Int, Int)
    public var values: (String, String)

    public static func == (a: Self, b: Self) -> Bool {
        a.field == b.field && a.ranks == b.ranks && a.values == b.values
    }

    public var description: String {
        "ranks \(ranks.0) and \(ranks.1) disagree on \(field) (\(values.0) vs \(values.1))"
    }
}

/// Before a job's ranks exchange any data, every rank hashes each field of its
/// configuration, the hashes are allgathered, and the first field on which a rank
/// differs from rank 0 is named, with both values (their first 80 bytes, gathered only
/// then). Every rank gets the same answer.
public enum ConfigurationAgreement {
    static let shownBytes = 80

    /// The first disagreement, the same on every rank, or nil. Collective.
    public static func check(_ fields: [ConfigurationField], communicator comm: Communicator) throws(CommError)
        -> ConfigurationMismatch?
    {
        let counts = try comm.allgather(fields.count)
        if let r = counts.firstIndex(where: { $0 != counts[0] }) {
            return ConfigurationMismatch(field: "the number of configuration fields (different distconv builds?)",
                                         ranks: (0, r), values: (String(counts[0]), String(counts[r])))
        }
        let hashes = try comm.allgather(fields.map { Int(bitPattern: UInt(fnv1a($0.name + "\u{0}" + $0.value))) })
        let n = fields.count
        for f in 0..<n {
            guard let r = (1..<comm.size).first(where: { hashes[$0 * n + f] != hashes[f] }) else { continue }
            // Only now the values: a fixed-size prefix of each rank's.
            var mine = [Int](repeating: 0, count: shownBytes)
            for (i, b) in fields[f].value.utf8.prefix(shownBytes).enumerated() { mine[i] = Int(b) }
            let all = try comm.allgather(mine)
            func value(_ q: Int) -> String {
                let bytes = all[(q * shownBytes)..<((q + 1) * shownBytes)].prefix { $0 != 0 }.map { UInt8($0) }
                return String(decoding: bytes, as: UTF8.self)
            }
            return ConfigurationMismatch(field: fields[f].name, ranks: (0, r), values: (value(0), value(r)))
        }
        return nil
    }

    /// 64-bit FNV-1a of the UTF-8 bytes.
    static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}

extension DataSource {
    /// What identifies the data on this rank without reading it all: each file's path,
    /// size and a hash of its first 64 KB.
    public var identity: String {
        func file(_ path: String) -> String {
            guard let handle = FileHandle(forReadingAtPath: path) else { return "\(path) (unreadable)" }
            defer { try? handle.close() }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
            let head = handle.readData(ofLength: 65536)
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in head {
                h ^= UInt64(b)
                h = h &* 0x0000_0100_0000_01b3
            }
            return "\(path) \(size) bytes #\(String(h, radix: 16))"
        }
        switch self {
        case .synthetic: return "synthetic"
        case .npy(let images, let labels): return file(images) + ", " + file(labels)
        case .idx(let directory):
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.contains("-idx") }.sorted()
            return names.isEmpty ? "\(directory) (no IDX files)" : names.map { file(directory + "/" + $0) }.joined(separator: ", ")
        }
    }
}
