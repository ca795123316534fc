import Foundation
import Geometry

extension Network {
    /// The model's parameters as PyTorch's `state_dict` of the same module would hold
    /// them: global tensors, PyTorch's names and shapes, float32. Gathered to rank 0 (the
    /// other ranks return an empty list). Collective.
    public func stateDict() -> [Safetensors.Tensor] {
        var out: [Safetensors.Tensor] = []
        var done = Set<Int>()
        for s in plan.steps {
            for (k, p) in s.parameters.enumerated() where done.insert(p).inserted {
                let shard = parameters[p]
                let values = gather(shape: shard.spec.shape, rects: shard.spec.rects, local: shard.value)
                let entry = s.layer.stateDictEntry(parameter: k, op: s.op, shape: shard.spec.shape)
                if communicator.rank == 0 {
                    out.append(Safetensors.Tensor(name: entry.name, shape: entry.shape, floats: values.map { Float($0) }))
                }
            }
        }
        return out
    }

    /// Writes `model.safetensors` of the current parameters into `directory` (rank 0),
    /// through a temporary file, fsynced, then renamed: a reader never sees half a file.
    public func writeModel(to directory: String, metadata: [String: String] = [:]) throws {
        let tensors = stateDict()
        guard communicator.rank == 0 else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try AtomicFile.write(Safetensors.encode(tensors, metadata: metadata),
                             to: (directory as NSString).appendingPathComponent("model.safetensors"))
    }
}

/// Writing a file so that it is either wholly there or not at all.
public enum AtomicFile {
    /// `path.tmp`, written and fsynced, renamed to `path`, the directory fsynced.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let ok = data.withUnsafeBytes { raw -> Bool in
            var at = 0
            while at < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + at, raw.count - at)
                if n <= 0 { return false }
                at += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CheckpointError(file: path, "cannot write: \(reason)")
        }
        guard rename(temporary, path) == 0 else {
            throw CheckpointError(file: path, "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    public static func syncDirectory(_ directory: String) {
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

/// A checkpoint that cannot be written or read: the file and what is wrong, one line.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var tensor: String?
    public var problem: String

    public init(file: String, tensor: String? = nil, _ problem: String) {
        self.file = file
        self.tensor = tensor
        self.problem = problem
    }

    public var description: String { [file, tensor.map { "tensor '\($0)'" }, problem].compactMap { $0 }.joined(separator: ": ") }
}
