import Foundation

/// Temporary folders for tests, all under one folder per test process that is removed
/// when the process exits, so a suite leaves nothing in /tmp behind. (A process killed
/// before exit leaves its folder; the next run removes folders whose process is gone.)
public enum TemporaryFolders {
    private static let prefix = "distconv-tests-"

    /// This process's root folder, made on first use.
    public static let root: String = {
        let tmp = FileManager.default.temporaryDirectory.path
        removeStale(in: tmp)
        let dir = "\(tmp)/\(prefix)\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TemporaryFolders.root) }
        return dir
    }()

    /// A fresh folder named after `name` under this process's root.
    public static func make(_ name: String) -> String {
        let dir = "\(root)/\(name)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Removes the roots of test processes that no longer run.
    private static func removeStale(in tmp: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: "\(tmp)/\(name)") }
        }
    }
}
