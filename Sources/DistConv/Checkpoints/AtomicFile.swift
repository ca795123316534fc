import Foundation

/// Files written so that they are wholly there or not at all.
public enum AtomicFile {
    /// Writes `data` to `path` and fsyncs it (the caller renames the folder it is in).
    public static func writeSynced(_ data: Data, to path: String) throws(CheckpointError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let ok = data.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            var at = 0
            while at < raw.count {
                let n = write(fd, base + at, raw.count - at)
                if n <= 0 { return false }
                at += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else { throw CheckpointError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
    }

    /// fsync of a directory, so a rename in it is on disk.
    public static func syncDirectory(_ directory: String) {
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
