import Geometry

extension RedistributionPlan: CustomStringConvertible {
    /// One line per message, for logs and debugging:
    ///
    ///     rank 0, copy: 3 receives (66 elements), 3 sends (66 elements), 1 local copies (1024 elements)
    ///       receive from 1: Rect(array([0, 0, 0, 32], dtype=int32), array([1, 1, 32, 1], dtype=int32))
    ///       ...
    public var description: String {
        func elements(_ rects: [Rect]) -> Int { rects.reduce(0) { $0 + $1.volume } }
        var lines = [
            "rank \(rank), \(mode): \(receives.count) receives (\(receiveCount) elements), "
                + "\(sends.count) sends (\(sendCount) elements), \(localCopies.count) local copies "
                + "(\(elements(localCopies)) elements)"
        ]
        for t in receives { lines += t.rects.map { "  receive from \(t.peer): \($0)" } }
        for t in sends { lines += t.rects.map { "  send to \(t.peer): \($0)" } }
        lines += localCopies.map { "  local: \($0)" }
        return lines.joined(separator: "\n")
    }
}
