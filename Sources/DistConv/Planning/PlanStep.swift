/// One step of the schedule: an op of the partition.
public struct PlanStep: Sendable, Equatable {
    public var name: String
    public var phase: OpPartition.Phase
}
