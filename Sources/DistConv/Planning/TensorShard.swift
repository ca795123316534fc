import Geometry

/// One tensor's shard on one rank.
public struct TensorShard: Sendable, Equatable {
    public var tensor: String
    public var role: TensorPartition.Role
    /// The region stored: owned block plus halo, in global coordinates.
    public var region: Rect
    /// `region.volume * 4` (float32; labels are int32).
    public var bytes: Int
}
