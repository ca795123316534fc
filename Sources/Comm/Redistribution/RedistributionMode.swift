/// What a redistribution does where several ranks write the same element.
public enum RedistributionMode: Hashable, Sendable, CustomStringConvertible {
    /// Every element of a rank's target region gets the value of exactly one writer: the
    /// rank itself when it writes the element, else the lowest-numbered rank that does.
    /// Halo exchange, layout changes, gather, scatter. Elements nobody writes are left
    /// as they were.
    case copy
    /// Every writer's value of an element is added into the target exactly once, the
    /// rank's own included: reverse halo exchange of gradients, reduce-scatter of partial
    /// sums. The executor adds into what the destination holds; in place, a rank's own
    /// contribution is already there and is not added again.
    case accumulate

    public var description: String {
        switch self {
        case .copy: return "copy"
        case .accumulate: return "accumulate"
        }
    }
}
