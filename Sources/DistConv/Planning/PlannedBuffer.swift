/// A buffer placed in a rank's arena.
public struct PlannedBuffer: Sendable, Equatable {
    public var shard: TensorShard
    /// Steps it is alive, both ends included.
    public var lifetime: ClosedRange<Int>
    /// Byte offset in the arena, a multiple of the plan's alignment.
    public var offset: Int

    public var tensor: String { shard.tensor }
    public var bytes: Int { shard.bytes }
}
