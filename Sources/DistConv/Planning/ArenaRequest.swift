/// One buffer to place in an arena: its size in bytes and the steps it lives, both ends
/// included (written at the first, last read at the last). Two requests whose lifetimes
/// share a step must not share bytes; a buffer may reuse bytes freed at an earlier step.
public struct ArenaRequest: Sendable, Equatable {
    public var size: Int
    public var lifetime: ClosedRange<Int>

    public init(size: Int, lifetime: ClosedRange<Int>) {
        precondition(size >= 0 && lifetime.lowerBound >= 0, "arena request of \(size) bytes over steps \(lifetime)")
        self.size = size
        self.lifetime = lifetime
    }

    public func overlaps(_ other: ArenaRequest) -> Bool { lifetime.overlaps(other.lifetime) }
}
