import Comm
import Kernels

/// The element types a network runs in: Float for training, Double for the gradient
/// checks (the same code, so the check covers what trains).
public protocol RuntimeScalar: GEMMScalar, MPIScalar {}

extension Float: RuntimeScalar {}
extension Double: RuntimeScalar {}
